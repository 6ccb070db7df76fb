// Whether the source text of a routine (pg_proc.prosrc, or an SQL-standard body) names one of
// a set of tables or routines, read as pgrev reads statements: identifiers (folded when
// unquoted, exact when quoted, U&"..." decoded) and, since dynamic SQL is assembled from them,
// words inside string literals; never text in comments. A name built at run time from pieces
// ('reser' || 'vation') cannot be seen.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

// The index in `names` (catalog names, as stored) of the first one `source` names, or
// names.size() when it names none.
std::size_t name_in_source(std::string_view source, const std::vector<std::string>& names);

}  // namespace pgrev::audit
