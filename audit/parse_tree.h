// libpg_query's JSON parse tree, and the few questions the analyzer asks of it.
#pragma once

#include <cstddef>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

using Json = nlohmann::json;

struct ParsedStatement {
    const Json* node = nullptr;  // {"UpdateStmt": {...}}
    std::size_t begin = 0;       // byte range in the text, as PostgreSQL splits it
    std::size_t end = 0;
};

struct ParseResult {
    bool ok = false;
    std::string error;  // with !ok: libpg_query's message
    int error_cursor = 0;
    std::vector<ParsedStatement> statements;
    std::shared_ptr<Json> tree;  // owns what `statements` point into
};

// Parses with PostgreSQL 15's grammar.
ParseResult parse_sql(std::string_view sql);

// `sql` with every byte that is not part of well-formed UTF-8 replaced by 'x', as parse_sql
// reads it (same structure, same byte offsets).
std::string with_invalid_utf8_replaced(std::string_view sql);

// {"Kind": {fields}} → "Kind" and fields. An empty node ({}) has kind "".
std::string_view node_kind(const Json& node);
const Json& node_fields(const Json& node);

// A RangeVar's names, as stored (already folded or unquoted by the parser).
struct RelationName {
    std::string schema;  // empty when unqualified
    std::string name;
    std::string alias;  // empty when none
    int location = -1;
};
RelationName relation_name(const Json& range_var_fields);

// Calls `visit(kind, fields)` for every node under `node`, `node` included.
void for_each_node(const Json& node,
                   const std::function<void(std::string_view, const Json&)>& visit);

int location_of(const Json& fields);  // byte offset; -1 when unknown

}  // namespace pgrev::audit
