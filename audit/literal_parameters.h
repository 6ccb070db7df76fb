// Which number literals of a rewritten statement pgrev may send as parameters of a prepared
// statement of its own (plan_template.h, "kept Queries"), and with which type. A parameter
// must be read by the server exactly as the literal would have been:
//   - the same type: PostgreSQL types an integer literal int4 when it fits, else int8 when it
//     fits, else numeric; a decimal or exponent literal numeric (make_const, parse_node.c).
//     A unary minus is folded into the literal by the grammar (doNegate): "-2147483648" is
//     an int4, while "-$1" with $1 = 2147483648 would be an int8. Such values stay text.
//   - in a place where any expression may stand: ORDER BY / GROUP BY / DISTINCT ON ordinals,
//     type modifiers (varchar(10), numeric(5,2)), the marks of a CTE's CYCLE clause, and the
//     WHERE of ON CONFLICT's index inference (matched against index predicates by proof, which
//     needs constants) read a literal as such, and grammar positions that take only an integer
//     (float(24), int[3], CURRENT_TIMESTAMP(3)) make no constant node at all: all stay text.
//   - its input function accepting it: int4 and int8 values are in range by the choice of
//     type, and numeric values are bounded (length, exponent) far below numeric's limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace pgrev::audit {

enum class ParameterUse : char {
    Text,     // stays in the text
    Value,    // a parameter holding the literal
    Negated,  // a parameter holding the literal, which a unary minus before it negates
};

// For every offset in `number_offsets` (where a number token of `sql` begins, ascending): how
// it may be sent. `sql` holds one statement; Text for all when it does not parse.
std::vector<ParameterUse> parameter_uses(std::string_view sql,
                                         const std::vector<std::size_t>& number_offsets);

inline constexpr std::uint32_t kInt4Oid = 23;
inline constexpr std::uint32_t kInt8Oid = 20;
inline constexpr std::uint32_t kNumericOid = 1700;

// The type PostgreSQL gives the number literal `token` (digits, '.', an exponent), negated
// by a unary minus when `negated`; 0 when it must stay text (see above).
std::uint32_t number_parameter_type(std::string_view token, bool negated);

// `sql` (one statement with parameters $1..$count) parses, and holds exactly `count`
// parameter references.
bool parses_with_parameters(std::string_view sql, std::size_t count);

}  // namespace pgrev::audit
