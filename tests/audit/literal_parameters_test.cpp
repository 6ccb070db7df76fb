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
std::vector<std::size_t> offsets_of(const std::string& sql, const std::string& number) {
    std::vector<std::size_t> offsets;
    for (std::size_t at = sql.find(number); at != std::string::npos;
         at = sql.find(number, at + number.size())) {
        offsets.push_back(at);
    }
    return offsets;
}

std::vector<ParameterUse> uses_of(const std::string& sql, const std::string& number,
                                  const CatalogSnapshot* catalog = nullptr) {
    std::vector<ParameterUse> uses;
    for (const ParameterSite& site : parameter_uses(sql, offsets_of(sql, number), catalog))
        uses.push_back(site.use);
    return uses;
}

// Table public.t (a int2, b numeric(6,2), c text, d int8), audited.
const CatalogSnapshot& t_catalog() {
    static const CatalogSnapshot catalog = [] {
        pgrev::config::AuditedTable t;
        t.schema = "public";
        t.name = "t";
        AuditedTableInfo info{
            "public",
            "t",
            {"a", "b", "c", "d"},
            {"a"},
            {},
            {},
            {{kInt2Oid, -1}, {kNumericOid, ((6 << 16) | 2) + 4}, {25, -1}, {kInt8Oid, -1}}};
        return CatalogSnapshot({t}, {info});
    }();
    return catalog;
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

    TEST_CASE("literal parameters: a SET value of an audited table's column, by its type") {
        const CatalogSnapshot* c = &t_catalog();
        std::string sql = "UPDATE t SET a = 17, b = 17, c = 17, d = 17 WHERE a = 17";
        // Known columns of a type the value may fit; text (its coercion may fail otherwise).
        CHECK(uses_of(sql, "17", c) ==
              std::vector<U>{U::Value, U::Value, U::Text, U::Value, U::Value});
        std::vector<ParameterSite> sites = parameter_uses(sql, offsets_of(sql, "17"), c);
        CHECK(sites[0].column.oid == kInt2Oid);
        CHECK(sites[1].column.oid == kNumericOid);
        CHECK(sites[3].column.oid == kInt8Oid);
        CHECK(sites[4].column.oid == 0);  // not a SET value
        // Without a catalog, in another table, a part of a column, ON CONFLICT: text.
        CHECK(uses_of(sql, "17") == std::vector<U>{U::Text, U::Text, U::Text, U::Text, U::Value});
        CHECK(uses_of("UPDATE other.t SET a = 17", "17", c) == std::vector<U>{U::Text});
        CHECK(uses_of("UPDATE u SET a = 17", "17", c) == std::vector<U>{U::Text});
        CHECK(uses_of("UPDATE t SET a[1] = 17", "17", c) == std::vector<U>{U::Text});
        CHECK(uses_of("UPDATE t AS x SET nosuch = 17", "17", c) == std::vector<U>{U::Text});
        CHECK(uses_of("INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 17", "17", c) ==
              std::vector<U>{U::Text});
        // Qualified, aliased, ONLY, negated.
        CHECK(uses_of("UPDATE ONLY public.t AS x SET a = -17", "17", c) ==
              std::vector<U>{U::Negated});
        CHECK(parameter_uses("UPDATE t SET a = -17", {18}, c)[0].column.oid == kInt2Oid);
    }

    TEST_CASE("literal parameters: a string SET value of a text column of an audited table") {
        const CatalogSnapshot* c = &t_catalog();
        std::string sql = "UPDATE t SET c = 'x', a = 'x' WHERE c = 'x'";
        CHECK(uses_of(sql, "'x'", c) == std::vector<U>{U::String, U::Text, U::Text});
        CHECK(parameter_uses(sql, offsets_of(sql, "'x'"), c)[0].column.oid == 25);
        CHECK(uses_of("UPDATE public.t AS u SET c = '' WHERE a = 1", "''", c) ==
              std::vector<U>{U::String});
        // Where its type could be resolved otherwise, or the column is not known: text.
        for (const char* other :
             {"UPDATE t SET c = 'x' || c", "UPDATE t SET c = 'x'::text", "UPDATE t SET c[1] = 'x'",
              "UPDATE t SET c = lower('x')", "UPDATE other.t SET c = 'x'",
              "INSERT INTO t (c) VALUES ('x')", "SELECT 'x'",
              "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET c = 'x'"}) {
            CAPTURE(other);
            CHECK(uses_of(other, "'x'", c) == std::vector<U>{U::Text});
        }
        CHECK(uses_of("UPDATE t SET c = 'x'", "'x'") == std::vector<U>{U::Text});
        // Numbers of the same text go on as before.
        CHECK(uses_of("UPDATE t SET c = 'x', d = 5 WHERE a = 5", "5", c) ==
              std::vector<U>{U::Value, U::Value});
    }

    TEST_CASE("literal parameters: a string's value, where its assignment cannot fail") {
        ColumnType text{25, -1};
        ColumnType varchar5{1043, 5 + 4};
        ColumnType char3{1042, 3 + 4};
        CHECK(string_assignment_value("'it''s'", text) == "it's");
        CHECK(string_assignment_value("''", text) == "");
        CHECK(string_assignment_value("'''x'''", text) == "'x'");
        CHECK(string_assignment_value("'abcde'", varchar5) == "abcde");
        CHECK_FALSE(string_assignment_value("'abcdef'", varchar5));
        CHECK(string_assignment_value("'abc'", char3) == "abc");
        CHECK_FALSE(string_assignment_value("'abcd'", char3));
        // Bytes, not characters: "é" is two in UTF-8.
        CHECK_FALSE(string_assignment_value("'abcdé'", varchar5));
        CHECK(string_assignment_value("'abcdefgh é'", {1043, -1}) == "abcdefgh é");
        // A backslash (standard_conforming_strings), a continuation, E'...': text.
        CHECK_FALSE(string_assignment_value("'a\\b'", text));
        CHECK_FALSE(string_assignment_value("'a'\n'b'", text));
        CHECK_FALSE(string_assignment_value("E'a'", text));
        // Types that may read a string otherwise: int4, name (truncates), a domain.
        for (std::uint32_t other : {kInt4Oid, 19U, 16400U}) {
            CHECK_FALSE(string_assignment_value("'a'", {other, -1}));
        }
    }

    TEST_CASE("literal parameters: an assignment that cannot fail for the value") {
        ColumnType int2{kInt2Oid, -1};
        CHECK(assignment_cannot_fail("32767", false, kInt4Oid, int2));
        CHECK(assignment_cannot_fail("32768", true, kInt4Oid, int2));
        CHECK_FALSE(assignment_cannot_fail("32768", false, kInt4Oid, int2));
        CHECK_FALSE(assignment_cannot_fail("32769", true, kInt4Oid, int2));
        CHECK_FALSE(assignment_cannot_fail("1.5", false, kNumericOid, int2));
        ColumnType int4{kInt4Oid, -1};
        CHECK(assignment_cannot_fail("2147483647", false, kInt4Oid, int4));
        CHECK_FALSE(assignment_cannot_fail("2147483648", false, kInt8Oid, int4));
        CHECK_FALSE(assignment_cannot_fail("1.0", false, kNumericOid, int4));
        ColumnType int8{kInt8Oid, -1};
        CHECK(assignment_cannot_fail("2147483648", false, kInt8Oid, int8));
        CHECK_FALSE(assignment_cannot_fail("9223372036854775808", false, kNumericOid, int8));
        for (std::uint32_t f : {kFloat4Oid, kFloat8Oid}) {
            CHECK(assignment_cannot_fail("5", false, kInt4Oid, {f, -1}));
            CHECK(assignment_cannot_fail("123456789012345678901234567890.5", false, kNumericOid,
                                         {f, -1}));
        }
        CHECK(assignment_cannot_fail("123456789012345678901234567890.5", false, kNumericOid,
                                     {kNumericOid, -1}));
        // numeric(6,2): below 10^4 after rounding to 2 decimals; a value of 4 integer digits
        // could round up to 10^4 (9999.995), so only up to 3 of them.
        ColumnType n62{kNumericOid, ((6 << 16) | 2) + 4};
        CHECK(assignment_cannot_fail("999.999", false, kNumericOid, n62));
        CHECK(assignment_cannot_fail("0.5", true, kNumericOid, n62));
        CHECK(assignment_cannot_fail("00999", false, kInt4Oid, n62));
        CHECK_FALSE(assignment_cannot_fail("1000", false, kInt4Oid, n62));
        CHECK_FALSE(assignment_cannot_fail("9999.99", false, kNumericOid, n62));
        // numeric(2,2), and a negative scale (PostgreSQL 15): left to the server.
        CHECK_FALSE(
            assignment_cannot_fail("0.5", false, kNumericOid, {kNumericOid, (2 << 16 | 2) + 4}));
        CHECK_FALSE(
            assignment_cannot_fail("5", false, kInt4Oid, {kNumericOid, ((4 << 16) | 0x7ff) + 4}));
        // Other types: text, a domain, money.
        CHECK_FALSE(assignment_cannot_fail("5", false, kInt4Oid, {25, -1}));
        CHECK_FALSE(assignment_cannot_fail("5", false, kInt4Oid, {790, -1}));
        CHECK_FALSE(assignment_cannot_fail("5", false, kInt4Oid, {16400, -1}));
    }

    TEST_CASE("literal parameters: the parameterized text parses with its references") {
        CHECK(parses_with_parameters("UPDATE t SET a = $1 WHERE id = $2", 2));
        CHECK(parses_with_parameters("UPDATE t SET a = $1 WHERE id = $1", 2));
        CHECK_FALSE(parses_with_parameters("UPDATE t SET a = $1 WHERE id = $2", 1));
        CHECK_FALSE(parses_with_parameters("SELECT a::float($1)", 1));
        CHECK_FALSE(parses_with_parameters("SELECT $1; SELECT $2", 2));
    }
}
