#include "audit/parse_tree.h"

#include <pg_query.h>
#include <pthread.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <utility>

#include "audit/sql_lexer.h"

namespace pgrev::audit {

namespace {

// Length of the well-formed UTF-8 sequence at `p` (RFC 3629: no overlong forms, no
// surrogates, nothing over U+10FFFF), or 0.
std::size_t utf8_sequence(const unsigned char* p, std::size_t left) {
    unsigned char c = p[0];
    if (c < 0x80) return 1;
    std::size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
    if (len == 0 || len > left) return 0;
    unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    if (p[1] < lo || p[1] > hi) return 0;
    for (std::size_t k = 2; k < len; ++k) {
        if ((p[k] & 0xC0) != 0x80) return 0;
    }
    return len;
}

}  // namespace

std::string with_invalid_utf8_replaced(std::string_view sql) {
    std::string out(sql);
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    for (std::size_t i = 0; i < out.size();) {
        std::size_t len = utf8_sequence(bytes + i, out.size() - i);
        if (len == 0) {
            out[i] = 'x';
            len = 1;
        }
        i += len;
    }
    return out;
}

namespace {

const Json& empty_object() {
    static const Json empty = Json::object();
    return empty;
}
}  // namespace

namespace {

// libpg_query's JSON writer recurses once or twice per tree level, a few hundred bytes of
// stack each (measured: 1+1+... takes about 140 bytes a term, 70 a token). Texts this short
// cannot nest deeply enough to matter on the caller's stack.
constexpr std::size_t kInlineParseBytes = 8 * 1024;
// Larger ones are parsed on a thread of their own with this much stack (reserved, touched
// only as deep as the tree goes), when their nesting bound allows it with a wide margin.
constexpr std::size_t kParserStackBytes = 128 * 1024 * 1024;
constexpr std::size_t kMaxNestingTokens = 400'000;

struct ParseJob {
    const char* text;
    PgQueryParseResult result;
};

void* parse_job(void* arg) {
    auto* job = static_cast<ParseJob*>(arg);
    // The result is malloc'd: the caller frees it. libpg_query frees the thread's memory
    // context when the thread ends (calling pg_query_exit here as well frees it twice).
    job->result = pg_query_parse(job->text);
    return nullptr;
}

// pg_query_parse on a thread with kParserStackBytes of stack; false when none can be started.
bool parse_on_big_stack(const char* text, PgQueryParseResult& out) {
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    ParseJob job{text, {}};
    pthread_t thread;
    bool started = pthread_attr_setstacksize(&attr, kParserStackBytes) == 0 &&
                   pthread_create(&thread, &attr, parse_job, &job) == 0;
    pthread_attr_destroy(&attr);
    if (!started) return false;
    pthread_join(thread, nullptr);
    out = job.result;
    return true;
}

// Nesting depth of JSON text (objects and arrays), without recursion.
std::size_t json_depth(const char* json) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false;
    for (const char* p = json; *p != '\0'; ++p) {
        if (in_string) {
            if (*p == '\\' && p[1] != '\0') {
                ++p;
            } else if (*p == '"') {
                in_string = false;
            }
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '{' || *p == '[') {
            deepest = std::max(deepest, ++depth);
        } else if ((*p == '}' || *p == ']') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

ParseResult too_deep(std::string why) {
    ParseResult out;
    out.too_deep = true;
    out.error = std::move(why);
    return out;
}

}  // namespace

const char* parser_version() {
    return "PostgreSQL " PG_MAJORVERSION;
}

bool same_major_version(std::string_view server_version) {
    std::string_view major = PG_MAJORVERSION;
    return server_version.substr(0, major.size()) == major &&
           (server_version.size() == major.size() ||
            !std::isdigit(static_cast<unsigned char>(server_version[major.size()])));
}

std::size_t nesting_bound(std::string_view sql) {
    // Per open parenthesis or bracket: the longest item so far, the current item's tokens and
    // deepest nested group, and the set operations (UNION chains over items).
    struct Group {
        std::size_t longest = 0, item = 0, nested = 0, set_ops = 0;
        std::size_t close() const { return std::max(longest, item + nested) + set_ops + 1; }
    };
    std::vector<Group> groups(1);
    for (const Token& t : lex_sql(sql)) {
        char c = sql[t.begin];
        bool bracket = t.kind == TokenKind::Other && t.end - t.begin == 1;
        Group& g = groups.back();
        if (t.kind == TokenKind::OpenParen || (bracket && c == '[')) {
            ++g.item;
            groups.emplace_back();
        } else if ((t.kind == TokenKind::CloseParen || (bracket && c == ']')) &&
                   groups.size() > 1) {
            std::size_t inner = g.close();
            groups.pop_back();
            groups.back().nested = std::max(groups.back().nested, inner);
            ++groups.back().item;
        } else if (t.kind == TokenKind::Comma || t.kind == TokenKind::Semicolon) {
            g.longest = std::max(g.longest, g.item + g.nested);
            g.item = g.nested = 0;
        } else {
            ++g.item;
            if (t.is_word(sql, "union") || t.is_word(sql, "intersect") ||
                t.is_word(sql, "except")) {
                ++g.set_ops;
            }
        }
    }
    while (groups.size() > 1) {  // unclosed: the parser refuses it, but bound it all the same
        std::size_t inner = groups.back().close();
        groups.pop_back();
        groups.back().nested = std::max(groups.back().nested, inner);
    }
    return groups.back().close();
}

ParseResult parse_sql(std::string_view sql) {
    ParseResult out;
    // libpg_query wants a NUL-terminated string, and copies names and literals into JSON that
    // must be valid UTF-8. A byte that is not (LATIN1 text, say) becomes 'x': like every byte
    // over 0x7F it can only stand in a name, a literal or a comment, so the statement's
    // structure and every byte offset stay the same.
    std::string text = with_invalid_utf8_replaced(sql);
    PgQueryParseResult r;
    if (text.size() <= kInlineParseBytes) {
        r = pg_query_parse(text.c_str());
    } else {
        std::size_t bound = nesting_bound(sql);
        if (bound > kMaxNestingTokens) {
            return too_deep("it may nest " + std::to_string(bound) +
                            " levels deep; pgrev parses at most " +
                            std::to_string(kMaxNestingTokens));
        }
        if (!parse_on_big_stack(text.c_str(), r)) {
            out.error = "cannot start a thread to parse it";
            return out;
        }
    }
    if (r.error != nullptr) {
        out.error = r.error->message != nullptr ? r.error->message : "syntax error";
        out.error_cursor = r.error->cursorpos;
        pg_query_free_parse_result(r);
        return out;
    }
    // The analysis walks the tree: keep it within a depth the server would not exceed either.
    if (std::size_t depth = json_depth(r.parse_tree); depth > kMaxTreeDepth) {
        pg_query_free_parse_result(r);
        return too_deep("its parse tree is " + std::to_string(depth) +
                        " levels deep; pgrev analyses at most " + std::to_string(kMaxTreeDepth));
    }
    try {
        out.tree = std::make_shared<Json>(Json::parse(r.parse_tree));
    } catch (const Json::exception& e) {
        pg_query_free_parse_result(r);
        out.error = std::string("unreadable parse tree: ") + e.what();
        return out;
    }
    pg_query_free_parse_result(r);
    const Json& stmts = (*out.tree)["stmts"];
    if (stmts.is_array()) {
        for (const auto& raw : stmts) {
            ParsedStatement s;
            s.node = &raw.at("stmt");
            s.begin = raw.value("stmt_location", 0);
            std::size_t len = raw.value("stmt_len", 0);
            // A length of 0 means "to the end of the string".
            s.end = len == 0 ? sql.size() : s.begin + len;
            out.statements.push_back(s);
        }
    }
    out.ok = true;
    return out;
}

std::string_view node_kind(const Json& node) {
    if (!node.is_object() || node.empty()) return {};
    return node.begin().key();
}

const Json& node_fields(const Json& node) {
    if (!node.is_object() || node.empty()) return empty_object();
    return node.begin().value();
}

RelationName relation_name(const Json& range_var_fields) {
    const Json& rv = range_var_fields;
    RelationName r;
    r.schema = rv.value("schemaname", "");
    r.name = rv.value("relname", "");
    if (auto a = rv.find("alias"); a != rv.end()) r.alias = a->value("aliasname", "");
    r.location = location_of(rv);
    return r;
}

int location_of(const Json& fields) {
    // The JSON leaves out fields that are zero: an absent location is the text's first byte.
    auto it = fields.find("location");
    return it == fields.end() ? 0 : it->get<int>();
}

void for_each_node(const Json& node,
                   const std::function<void(std::string_view, const Json&)>& visit) {
    // An explicit stack, not recursion: a tree may be as deep as kMaxTreeDepth (and a caller
    // may pass a deeper one). Entries are (key, value); the key is null for array items.
    std::vector<std::pair<const std::string*, const Json*>> pending{{nullptr, &node}};
    while (!pending.empty()) {
        auto [key, value] = pending.back();
        pending.pop_back();
        // Node kinds are CamelCase keys whose value is an object; fields are lower case.
        if (key != nullptr && !key->empty() &&
            std::isupper(static_cast<unsigned char>((*key)[0])) && value->is_object()) {
            visit(*key, *value);
        }
        std::size_t first = pending.size();
        if (value->is_array()) {
            for (const auto& item : *value)
                pending.emplace_back(nullptr, &item);
        } else if (value->is_object()) {
            for (auto it = value->begin(); it != value->end(); ++it)
                pending.emplace_back(&it.key(), &it.value());
        }
        // Children in document order: the first one on top.
        std::reverse(pending.begin() + static_cast<std::ptrdiff_t>(first), pending.end());
    }
}

}  // namespace pgrev::audit
