// Which number literals may be sent as parameters, and with which type: the server must read
// the parameter exactly as it would the literal (audit/literal_parameters.h).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/literal_parameters.h"

using namespace pgrev::audit;

namespace {

// The uses of the number tokens at the offsets of each `marker` occurrence (the marker is the
// number itself: every occurrence of it in `sql` is looked up).
std::vector<ParameterUse> uses_of(const std::string& sql, const std::string& number) {
    std::vector<std::size_t> offsets;
    for (std::size_t at = sql.find(number); at != std::string::npos;
         at = sql.find(number, at + number.size())) {
        offsets.push_back(at);
    }
    return parameter_uses(sql, offsets);
}

using U = ParameterUse;

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("literal parameters: a number's type is the one PostgreSQL gives the literal") {
        CHECK(number_parameter_type("0", false) == kInt4Oid);
        CHECK(number_parameter_type("2147483647", false) == kInt4Oid);
        CHECK(number_parameter_type("0002147483647", false) == kInt4Oid);
        CHECK(number_parameter_type("2147483648", false) == kInt8Oid);
        CHECK(number_parameter_type("9223372036854775807", false) == kInt8Oid);
        CHECK(number_parameter_type("9223372036854775808", false) == kNumericOid);
        CHECK(number_parameter_type("1.5", false) == kNumericOid);
        CHECK(number_parameter_type(".5", false) == kNumericOid);
        CHECK(number_parameter_type("5.", false) == kNumericOid);
        CHECK(number_parameter_type("0.000000000000000000000000000001", false) == kNumericOid);
        CHECK(number_parameter_type("123456789012345678901234567890.5", false) == kNumericOid);
        // Exponents, and decimals a coercion to float4 could fail for, stay text.
        CHECK(number_parameter_type("1e5", false) == 0);
        CHECK(number_parameter_type("1E-5", false) == 0);
        CHECK(number_parameter_type("1234567890123456789012345678901.5", false) == 0);
        CHECK(number_parameter_type("0.0000000000000000000000000000001", false) == 0);
        // Negated: the same type, but at 2^31 and 2^63 the folded literal has a smaller one.
        CHECK(number_parameter_type("5", true) == kInt4Oid);
        CHECK(number_parameter_type("2147483647", true) == kInt4Oid);
        CHECK(number_parameter_type("2147483648", true) == 0);
        CHECK(number_parameter_type("2147483649", true) == kInt8Oid);
        CHECK(number_parameter_type("9223372036854775808", true) == 0);
        CHECK(number_parameter_type("9223372036854775809", true) == kNumericOid);
        // What numeric's input could refuse stays text.
        CHECK(number_parameter_type("1e100000", false) == 0);
        CHECK(number_parameter_type("0." + std::string(2000, '1'), false) == 0);
        CHECK(number_parameter_type(std::string(40, '1'), false) == 0);
        CHECK(number_parameter_type("", false) == 0);
    }

    TEST_CASE("literal parameters: values in expressions, not ordinals, typmods or proofs") {
        CHECK(uses_of("UPDATE t SET a = a + 17 WHERE id = 17", "17") ==
              std::vector<U>{U::Value, U::Value});
        CHECK(uses_of("INSERT INTO t (a, b) VALUES (17, 17), (17, 17)", "17") ==
              std::vector<U>{U::Value, U::Value, U::Value, U::Value});
        // What planning folds (and may fail on) whether or not a row needs it: operations
        // on constants only, and a SET value's coercion to its column's type.
        CHECK(uses_of("UPDATE t SET a = 17, b = a / 17 WHERE id = 17 + 17", "17") ==
              std::vector<U>{U::Text, U::Value, U::Text, U::Text});
        CHECK(uses_of("UPDATE t SET a = CASE WHEN a > 17 THEN 1 / 17 END", "17") ==
              std::vector<U>{U::Value, U::Text});
        CHECK(uses_of("UPDATE t SET a = a + 17::int2, b = abs(17)", "17") ==
              std::vector<U>{U::Text, U::Text});
        CHECK(uses_of("INSERT INTO t VALUES (17) ON CONFLICT (a) DO UPDATE SET a = 17", "17") ==
              std::vector<U>{U::Value, U::Text});
        CHECK(uses_of("SELECT a FROM t WHERE a IN (17, 17) LIMIT 17 OFFSET 17", "17") ==
              std::vector<U>{U::Value, U::Value, U::Value, U::Value});
        // Negated by a unary minus; a binary minus leaves the literal as it is.
        CHECK(uses_of("UPDATE t SET a = a + -17", "17") == std::vector<U>{U::Negated});
        CHECK(uses_of("UPDATE t SET a = a + -  17", "17") == std::vector<U>{U::Negated});
        CHECK(uses_of("UPDATE t SET a = a -17", "17") == std::vector<U>{U::Value});
        CHECK(uses_of("UPDATE t SET a = a - 17", "17") == std::vector<U>{U::Value});
        // Two minus signs, or a comment between: text.
        CHECK(uses_of("UPDATE t SET a = - -17", "17") == std::vector<U>{U::Text});
        CHECK(uses_of("UPDATE t SET a = -/**/17", "17") == std::vector<U>{U::Text});
        // Ordinals.
        CHECK(uses_of("SELECT a, b FROM t ORDER BY 17", "17") == std::vector<U>{U::Text});
        CHECK(uses_of("SELECT a, b FROM t ORDER BY -17", "17") == std::vector<U>{U::Text});
        CHECK(uses_of("SELECT a FROM t GROUP BY 17", "17") == std::vector<U>{U::Text});
        CHECK(uses_of("SELECT a FROM t GROUP BY ROLLUP (17)", "17") == std::vector<U>{U::Text});
        CHECK(uses_of("SELECT DISTINCT ON (17) a FROM t", "17") == std::vector<U>{U::Text});
        // An expression in ORDER BY is no ordinal.
        CHECK(uses_of("SELECT a FROM t ORDER BY a + 17", "17") == std::vector<U>{U::Value});
        // Type modifiers, with the value cast beside them.
        CHECK(uses_of("SELECT a::numeric(17, 2) + 17, CAST(a AS varchar(17))", "17") ==
              std::vector<U>{U::Text, U::Value, U::Text});
        CHECK(uses_of("SELECT interval '1' second(3)", "3") == std::vector<U>{U::Text});
        // Grammar places that take only an integer make no constant.
        CHECK(uses_of("SELECT a::float(17), a::int[17], CURRENT_TIMESTAMP(3)", "17") ==
              std::vector<U>{U::Text, U::Text});
        // ON CONFLICT's inference WHERE is matched to index predicates by proof.
        CHECK(uses_of("INSERT INTO t VALUES (17) ON CONFLICT (a) WHERE a > 17 DO NOTHING", "17") ==
              std::vector<U>{U::Value, U::Text});
        // A CTE's CYCLE marks.
        CHECK(uses_of("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n FROM r) CYCLE n SET "
                      "c TO 17 DEFAULT 18 USING p SELECT * FROM r",
                      "17") == std::vector<U>{U::Text});
        // A text that does not parse, or holds two statements: all text.
        CHECK(uses_of("UPDATE t SET a = 17 WHERE", "17") == std::vector<U>{U::Text});
        CHECK(uses_of("SELECT 17; SELECT 17", "17") == std::vector<U>{U::Text, U::Text});
    }

    TEST_CASE("literal parameters: the parameterized text parses with its references") {
        CHECK(parses_with_parameters("UPDATE t SET a = $1 WHERE id = $2", 2));
        CHECK(parses_with_parameters("UPDATE t SET a = $1 WHERE id = $1", 2));
        CHECK_FALSE(parses_with_parameters("UPDATE t SET a = $1 WHERE id = $2", 1));
        CHECK_FALSE(parses_with_parameters("SELECT a::float($1)", 1));
        CHECK_FALSE(parses_with_parameters("SELECT $1; SELECT $2", 2));
    }
}
