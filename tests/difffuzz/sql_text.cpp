#include "sql_text.h"

#include <cstdio>
#include <set>

namespace pgrev::difffuzz {

Sql& Sql::operator<<(const std::string& token) {
    tokens_.push_back(token);
    return *this;
}

Sql& Sql::operator<<(const Sql& other) {
    tokens_.insert(tokens_.end(), other.tokens_.begin(), other.tokens_.end());
    return *this;
}

std::string Sql::plain() const {
    std::string text;
    for (const std::string& token : tokens_) {
        if (!text.empty()) text += " ";
        text += token;
    }
    return text;
}

std::string random_gap(Rng& rng, const Classes& on) {
    if (rng.chance(75)) return " ";
    std::vector<std::string> gaps = {" ", "  "};
    if (on.on("odd-whitespace")) {
        gaps.insert(gaps.end(), {"\n", "\t", "\r", "\f", " \r\n ", "\n\n"});
    }
    if (on.on("comments")) {
        gaps.insert(gaps.end(), {"/**/", " /* c */ ", "/* ; ' \" $$ $q$ -- */", "-- c\n", "--\n",
                                 " -- ' ; $$ /* \n", "/*\n*/", "-- acct;\n"});
    }
    if (on.on("nested-comments")) {
        gaps.insert(gaps.end(), {"/* a /* b */ c */", "/*/* ' */*/", "/* /* /* x */ */ ' */"});
    }
    if (on.on("cr-comments")) {
        gaps.insert(gaps.end(), {"-- c\r", "--\r", " -- ' \r", "-- x\r\n", "/* a */-- b\r"});
    }
    return rng.pick(gaps);
}

Rendered Sql::decorated(Rng& rng, const Classes& on, bool end_of_text) const {
    Rendered r;
    r.tokens = tokens_;
    r.gaps.push_back(rng.chance(20) ? random_gap(rng, on) : "");
    for (std::size_t i = 1; i < tokens_.size(); ++i) {
        std::string gap = random_gap(rng, on);
        // "-" then "-- c" would be "--- c": a comment that swallows the minus.
        if (tokens_[i - 1].back() == '-' && gap.rfind("--", 0) == 0) gap = " " + gap;
        r.gaps.push_back(gap);
    }
    std::string tail;
    if (rng.chance(15)) {
        tail = random_gap(rng, on);
        if (end_of_text && on.on("eot-comments") && rng.chance(50)) {
            tail = rng.pick(std::vector<std::string>{" -- the end", "--", "-- ' ;"});
        }
    }
    r.gaps.push_back(tail);
    return r;
}

namespace {

bool is_plain_ident(const std::string& name) {
    static const std::set<std::string> reserved = {"select", "from",  "where", "table",
                                                   "order",  "group", "user",  "all"};
    if (name.empty() || reserved.count(name) != 0) return false;
    if (!(name[0] >= 'a' && name[0] <= 'z') && name[0] != '_') return false;
    for (char ch : name) {
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
    }
    return true;
}

std::string quoted(const std::string& name) {
    std::string text = "\"";
    for (char ch : name) {
        if (ch == '"') text += '"';
        text += ch;
    }
    return text + "\"";
}

std::string upper(std::string name) {
    for (char& ch : name)
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    return name;
}

// U&"..." with one character (at `at`) escaped, using `escape` as the escape character.
std::string unicode_ident(const std::string& name, std::size_t at, char escape) {
    std::string body;
    for (std::size_t i = 0; i < name.size(); ++i) {
        if (i == at) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%c%04X", escape, static_cast<unsigned char>(name[i]));
            body += buf;
        } else {
            if (name[i] == '"') body += '"';
            if (name[i] == escape) body += escape;
            body += name[i];
        }
    }
    std::string text = "U&\"" + body + "\"";
    if (escape != '\\') text += std::string(" UESCAPE '") + escape + "'";
    return text;
}

}  // namespace

std::string ident_plain(const std::string& name) {
    return is_plain_ident(name) ? name : quoted(name);
}

std::string ident(const std::string& name, Rng& rng, const Classes& on) {
    std::vector<std::string> spellings = {ident_plain(name)};
    if (on.on("names")) {
        spellings.push_back(quoted(name));
        if (is_plain_ident(name)) spellings.push_back(upper(name));
    }
    if (on.on("unicode-names"))
        spellings.push_back(unicode_ident(name, rng.below(name.size()), '\\'));
    if (on.on("uescape")) spellings.push_back(unicode_ident(name, 0, '!'));
    return rng.pick(spellings);
}

std::string table_ref(const Table& table, Rng& rng, const Classes& on) {
    std::string name = ident(table.name, rng, on);
    bool qualify = table.schema != "public" || (on.on("names") && rng.chance(25));
    return qualify ? ident(table.schema, rng, on) + "." + name : name;
}

namespace {

Value text_value(bool key, Rng& rng, const Classes& on) {
    if (key) {
        std::string v = rng.pick(std::vector<std::string>{"x", "y", "z"});
        return {"'" + v + "'", v};
    }
    std::vector<Value> values = {{"'t1'", "t1"},
                                 {"'hello world'", "hello world"},
                                 {"'semi;colon'", "semi;colon"},
                                 {"''", ""}};
    if (on.on("quoting")) {
        values.insert(values.end(), {{"'it''s'", "it's"},
                                     {"E'tab\\there'", "tab\there"},
                                     {"E'\\'q\\''", "'q'"},
                                     {"U&'\\0041b\\00e9'", "Ab\xc3\xa9"},
                                     {"U&'!0041x' UESCAPE '!'", "Ax"},
                                     {"$$dollar ' ; --$$", "dollar ' ; --"},
                                     {"$q$ $$ ; /* $q$", " $$ ; /* "},
                                     {"'-- not a comment'", "-- not a comment"},
                                     {"'/* nor */'", "/* nor */"},
                                     {"'back\\slash'", "back\\slash"},
                                     {"'a'\n'b'", "ab"}});  // adjacent literals need a newline
    }
    values.push_back({"NULL", std::nullopt});
    return rng.pick(values);
}

}  // namespace

Value random_value(ColKind kind, bool key, Rng& rng, const Classes& on) {
    switch (kind) {
        case ColKind::Int: {
            if (!key && rng.chance(10)) return {"NULL", std::nullopt};
            if (rng.chance(8)) return {"(2 + 3)", "5", false};
            if (rng.chance(5)) return {"'4'", "4"};
            if (on.on("errors") && rng.chance(3)) return {"'x'", "x"};
            int v = rng.range(key ? 1 : -1, 6);
            return {std::to_string(v), std::to_string(v)};
        }
        case ColKind::Text:
            return text_value(key, rng, on);
        case ColKind::Numeric: {
            std::vector<Value> values = {{"2.5", "2.5"},
                                         {"1.005", "1.005"},
                                         {"3", "3"},
                                         {"0.125", "0.125"},
                                         {"NULL", std::nullopt}};
            if (on.on("errors")) values.push_back({"12345678.9", "12345678.9"});
            return rng.pick(values);
        }
        case ColKind::Code: {
            std::vector<Value> values = {{"'ok'", "ok"},
                                         {"'zz'", "zz"},
                                         {"NULL", std::nullopt},
                                         {"DEFAULT", std::nullopt, false}};
            if (on.on("errors")) values.push_back({"'bad'", "bad"});
            return rng.pick(values);
        }
        case ColKind::Generated:
            return {"DEFAULT", std::nullopt, false};
    }
    return {"NULL", std::nullopt};
}

std::string literal(const Param& value) {
    if (!value) return "NULL";
    std::string text = "'";
    for (char ch : *value) {
        if (ch == '\'') text += '\'';
        text += ch;
    }
    return text + "'";
}

}  // namespace pgrev::difffuzz
