// libpg_query's JSON parse tree, and the few questions the analyzer asks of it.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
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
    std::string error;  // with !ok: libpg_query's message, or why pgrev did not parse it
    int error_cursor = 0;
    // With !ok: pgrev did not parse (or did not keep) the tree because it is nested deeper
    // than pgrev's bound (kMaxTreeDepth); the server would most likely refuse it too (54001).
    bool too_deep = false;
    std::vector<ParsedStatement> statements;
    std::shared_ptr<Json> tree;  // owns what `statements` point into
};

// Parses with PostgreSQL 15's grammar. libpg_query writes its tree recursively: a text that
// could nest deeper than the caller's stack allows is parsed on a thread with a large stack,
// and one that could nest deeper than even that is not parsed (too_deep).
ParseResult parse_sql(std::string_view sql);

// "PostgreSQL 15": the version whose grammar parse_sql has.
const char* parser_version();
// True when `server_version` (ParameterStatus server_version, "15.20 (Debian ...)") is of
// that major version.
bool same_major_version(std::string_view server_version);

// Trees nested deeper than this (JSON levels, about two per expression level; PostgreSQL 15
// with its default max_stack_depth refuses 5,000 terms of 1+1+...) are not analysed.
inline constexpr std::size_t kMaxTreeDepth = 20'000;

// An upper bound of how deeply libpg_query may nest the tree of `sql`, in tokens: nodes chain
// only through the tokens of one list item (set operations across items) plus what is nested
// in parentheses or brackets inside it.
std::size_t nesting_bound(std::string_view sql);

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

// Calls `visit(kind, fields)` for every node under `node`, `node` included, in document order.
// Iterative: any depth is safe.
void for_each_node(const Json& node,
                   const std::function<void(std::string_view, const Json&)>& visit);

int location_of(const Json& fields);  // byte offset; -1 when unknown

}  // namespace pgrev::audit
