#include "audit/parse_tree.h"

#include <pg_query.h>

#include <nlohmann/json.hpp>

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

ParseResult parse_sql(std::string_view sql) {
    ParseResult out;
    // libpg_query wants a NUL-terminated string, and copies names and literals into JSON that
    // must be valid UTF-8. A byte that is not (LATIN1 text, say) becomes 'x': like every byte
    // over 0x7F it can only stand in a name, a literal or a comment, so the statement's
    // structure and every byte offset stay the same.
    std::string text = with_invalid_utf8_replaced(sql);
    PgQueryParseResult r = pg_query_parse(text.c_str());
    if (r.error != nullptr) {
        out.error = r.error->message != nullptr ? r.error->message : "syntax error";
        out.error_cursor = r.error->cursorpos;
        pg_query_free_parse_result(r);
        return out;
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

RelationName relation_name(const Json& rv) {
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
    if (node.is_array()) {
        for (const auto& item : node)
            for_each_node(item, visit);
        return;
    }
    if (!node.is_object()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string& key = it.key();
        // Node kinds are CamelCase keys whose value is an object; fields are lower case.
        if (!key.empty() && std::isupper(static_cast<unsigned char>(key[0])) &&
            it.value().is_object()) {
            visit(key, it.value());
        }
        for_each_node(it.value(), visit);
    }
}

}  // namespace pgrev::audit
