// Which number literals (and string SET values, see parameter_uses) of a rewritten statement
// pgrev may send as parameters of a prepared statement of its own (plan_template.h, "kept
// Queries"), and with which type. The server
// must read the parameter exactly as it would the literal, and a prepared statement may run
// with a generic plan, where the parameters are not constants while planning:
//   - the same type: PostgreSQL types an integer literal int4 when it fits, else int8 when it
//     fits, else numeric; a decimal or exponent literal numeric (make_const, parse_node.c).
//     A unary minus is folded into the literal by the grammar (doNegate): "-2147483648" is
//     an int4, while "-$1" with $1 = 2147483648 would be an int8. Such values stay text.
//   - in a place where any expression may stand: ORDER BY / GROUP BY / DISTINCT ON ordinals,
//     type modifiers (varchar(10), numeric(5,2)), the marks of a CTE's CYCLE clause, and the
//     WHERE of ON CONFLICT's index inference (matched against index predicates by proof, which
//     needs constants) read a literal as such, and grammar positions that take only an integer
//     (float(24), int[3], CURRENT_TIMESTAMP(3)) make no constant node at all: all stay text.
//   - no error a constant raises while planning: an operation on constants only (1/0,
//     2147483647 + 1, 3e9::int, a CASE branch never taken) is folded while planning, so it
//     fails even when no row needs it, and so would SET col = <literal> whose coercion to the
//     column's type fails (99999 into a smallint). A generic plan would evaluate them for the
//     rows that need them only: such literals stay text. A SET value of an audited table's
//     column is a parameter only where the coercion to the column's type cannot fail for the
//     value sent (assignment_cannot_fail), which each text's values decide. Next to a column, a
//     literal is evaluated per row either way; the coercions it may need there (int4 to int8 or
//     numeric, numeric to float) cannot fail for the values taken (decimals of about 1e-30 to
//     1e30). INSERT's VALUES are evaluated once per row either way: an error is the same.
//   - its input function accepting it: int4 and int8 values are in range by the choice of
//     type, and numeric values are bounded far below numeric's limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/catalog.h"

namespace pgrev::audit {

enum class ParameterUse : char {
    Text,     // stays in the text
    Value,    // a parameter holding the literal
    Negated,  // a parameter holding the literal, which a unary minus before it negates
    Dropped,  // a comment, left out (plan_template.h); parameter_uses never says so
    String,   // a parameter holding a string literal's value (string_assignment_value)
};

struct ParameterSite {
    ParameterUse use = ParameterUse::Text;
    // A SET value of an UPDATE of an audited table: the type of the column it is assigned to,
    // whose coercion must not fail for the value sent. Oid 0 otherwise.
    ColumnType column;
};

// For every offset in `offsets` (where a number token or a plain '...' string token of `sql`
// begins, ascending): how it may be sent. `sql` holds one statement; Text for all when it does
// not parse. `catalog` gives the types of the audited tables' columns (none: SET values stay
// text). A string is a parameter only as a SET value of a whole column of an audited table
// whose type reads any string as it is (text, varchar, char; see string_assignment_value),
// where the literal, of type unknown, is coerced to the column's type exactly as a parameter
// of unspecified type is: everywhere else (an operator's operand, a function's argument, a
// WHERE) a parameter's type might be resolved otherwise than the literal's, and it stays text.
std::vector<ParameterSite> parameter_uses(std::string_view sql,
                                          const std::vector<std::size_t>& offsets,
                                          const CatalogSnapshot* catalog = nullptr);

inline constexpr std::uint32_t kInt2Oid = 21;
inline constexpr std::uint32_t kInt4Oid = 23;
inline constexpr std::uint32_t kInt8Oid = 20;
inline constexpr std::uint32_t kNumericOid = 1700;
inline constexpr std::uint32_t kFloat4Oid = 700;
inline constexpr std::uint32_t kFloat8Oid = 701;

// The type PostgreSQL gives the number literal `token` (digits, '.', an exponent), negated
// by a unary minus when `negated`; 0 when it must stay text (see above).
std::uint32_t number_parameter_type(std::string_view token, bool negated);

// Assigning the number literal `token` (negated when `negated`), of type `type`
// (number_parameter_type), to a column of type `column` cannot fail: the same type or a wider
// integer, int2 or numeric(p,s) with room for the value, numeric without typmod, float4 or
// float8 (for the values a numeric parameter may take). Other types (a domain, text, money)
// may fail or read the value otherwise: false.
bool assignment_cannot_fail(std::string_view token, bool negated, std::uint32_t type,
                            ColumnType column);

// The value of the string literal `token` (a plain '...', quotes doubled inside) as a
// parameter assigned to a column of type `column`, when that cannot fail and reads the same:
// text, varchar or char, and no longer than the column's length (counted in bytes, which
// are at least its characters in every encoding). nullopt when it must stay text: another
// type, an E'...' or a string continued on the next line (one slot of the shape, more than
// one token), or a backslash, which standard_conforming_strings off would read otherwise.
std::optional<std::string> string_assignment_value(std::string_view token, ColumnType column);

// A client's own statement with parameters (`types`: their OIDs, 0 or missing when not
// given) would run the same kept by pgrev, with a generic plan, as in the client's unnamed
// statement, with a custom plan (its parameters constants while planning): no parameter in
// a place where a constant could fail while planning (see above: an operation on constants
// only, ON CONFLICT's inference, a CTE's CYCLE marks, a SET value of a type given).
bool parameters_plan_alike(std::string_view sql, const std::vector<std::uint32_t>& types);

// `sql` (one statement with parameters $1..$count) parses, and holds exactly `count`
// parameter references.
bool parses_with_parameters(std::string_view sql, std::size_t count);

}  // namespace pgrev::audit
