#include "audit/parse_tree.h"

#include <pg_query.h>

#include <nlohmann/json.hpp>

namespace pgrev::audit {

namespace {
const Json& empty_object() {
    static const Json empty = Json::object();
    return empty;
}
}  // namespace

ParseResult parse_sql(std::string_view sql) {
    ParseResult out;
    std::string text(sql);  // libpg_query wants a NUL-terminated string
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
