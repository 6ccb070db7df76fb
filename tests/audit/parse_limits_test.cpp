// Issue 7 items 12 and 17: what pgrev does with texts it cannot or will not parse. A deeply
// nested text must never overflow a stack (libpg_query's JSON writer and pgrev's walks are
// recursive by nature); a text that does not parse is the server's to refuse when the server
// has the same grammar.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "audit/parse_tree.h"
#include "audit/rewriter.h"
#include "tests/audit/rewrite_fixture.h"

using namespace pgrev;
using namespace pgrev::audit;

namespace {

std::string sum_of_ones(std::size_t terms, const std::string& head = "SELECT ") {
    std::string sql = head + "1";
    sql.reserve(sql.size() + 2 * terms);
    for (std::size_t i = 1; i < terms; ++i)
        sql += "+1";
    return sql;
}

RewritePlan plan_with(const std::string& sql, bool same_grammar) {
    static const CatalogSnapshot catalog = test::reservation_catalog();
    return plan_rewrite(sql, catalog, {}, true, same_grammar);
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("parse limits: deep trees are parsed on a big stack or refused, never overflow") {
        // 60,000 terms once overflowed for_each_node; 100,000 overflowed pg_query_parse.
        for (std::size_t terms : {60'000u, 100'000u, 400'000u}) {
            ParseResult r = parse_sql(sum_of_ones(terms) + " /* schema */");
            CHECK_FALSE(r.ok);
            CHECK(r.too_deep);
            CHECK(r.error.find("deep") != std::string::npos);
        }
        // Shallow but long texts still parse: a bulk VALUES list, a long IN list.
        std::string values = "INSERT INTO t VALUES (0)";
        std::string in = "DELETE FROM t WHERE id IN (0";
        for (int i = 1; i < 50'000; ++i) {
            values += ", (" + std::to_string(i) + ")";
            in += ", " + std::to_string(i);
        }
        CHECK(parse_sql(values).ok);
        CHECK(parse_sql(in + ")").ok);
        // Within pgrev's bound a deep text parses (the server may still say 54001).
        ParseResult ok = parse_sql(sum_of_ones(4'000));
        CHECK(ok.ok);
    }

    TEST_CASE("parse limits: nesting_bound bounds chains, lists and set operations") {
        CHECK(nesting_bound(sum_of_ones(1'000)) >= 1'000);
        CHECK(nesting_bound("SELECT a, b, c FROM t") < 10);
        // Commas end a chain, but not a chain of set operations over items.
        std::string unions = "SELECT a, b";
        for (int i = 0; i < 1'000; ++i)
            unions += " UNION SELECT a, b";
        CHECK(nesting_bound(unions) >= 1'000);
        // Parentheses and brackets add what they hold to the item around them.
        CHECK(nesting_bound("SELECT f((((1+1+1+1+1))))") >= 9);
        CHECK(nesting_bound("SELECT ARRAY[1, 2+2+2+2+2+2][1]") >= 11);
    }

    TEST_CASE("parse limits: for_each_node walks any depth, in document order") {
        Json deep = Json::object();
        Json* at = &deep;
        for (int i = 0; i < 200'000; ++i) {
            (*at)["A_Expr"] = Json::object();
            at = &(*at)["A_Expr"]["lexpr"];
        }
        std::size_t visited = 0;
        for_each_node(deep, [&](std::string_view kind, const Json&) {
            CHECK(kind == "A_Expr");
            ++visited;
        });
        CHECK(visited == 200'000);
        std::string order;
        Json doc = Json::parse(R"({"A":{"x":[{"B":{}},{"C":{"y":{"D":{}}}}],"z":{"E":{}}}})");
        for_each_node(doc, [&](std::string_view kind, const Json&) { order += kind; });
        CHECK(order == "ABCDE");
    }

    TEST_CASE("parse limits: a deep statement on an audited table is refused with 54001") {
        RewritePlan p = plan_with(sum_of_ones(60'000, "UPDATE reservation SET party = "), true);
        CHECK(p.action == RewritePlan::Action::Refuse);
        CHECK(p.refusal_sqlstate == "54001");
        CHECK(p.refusal_message.find("public.reservation") != std::string::npos);
        // Naming no audited table, it is the server's to answer.
        CHECK(plan_with(sum_of_ones(60'000) + " /* schema */", true).action ==
              RewritePlan::Action::Forward);
    }

    TEST_CASE("parse limits: the analysis of a tree near the bound fits the caller's stack") {
        // Joins nest left-deep without a bound in the grammar, and the analysis of FROM items
        // recurses over them: the depth bound keeps that within an ordinary thread's stack.
        for (int joins : {9'000, 12'000}) {
            std::string sql = "UPDATE reservation r SET party = 1 FROM dinner_slot d";
            for (int i = 0; i < joins; ++i)
                sql += " JOIN dinner_slot d" + std::to_string(i) + " ON true";
            sql += " WHERE r.id = d.id RETURNING r.id";
            RewritePlan p = plan_with(sql, true);
            CAPTURE(joins);
            CHECK(p.action ==
                  (joins < 10'000 ? RewritePlan::Action::Rewrite : RewritePlan::Action::Refuse));
        }
    }

    TEST_CASE("parse limits: unparsable text is forwarded only to a server of pgrev's grammar") {
        for (const char* sql : {"SELECT U&'wrong: \\061'", "SELECT U&'\\db99'",
                                "UPDATE reservation SET party = WHERE id = 1"}) {
            CAPTURE(sql);
            CHECK(plan_with(sql, true).action == RewritePlan::Action::Forward);
            RewritePlan refused = plan_with(sql, false);
            CHECK(refused.action == RewritePlan::Action::Refuse);
            CHECK(refused.refusal_sqlstate == "42601");
            CHECK(refused.refusal_message.find("PostgreSQL 15's grammar") != std::string::npos);
        }
        // The server continues 'a' -- c<LF> 'b' to one string, libpg_query does not: the server
        // may run what libpg_query calls a syntax error.
        CHECK(plan_with("UPDATE reservation SET name = 'a' -- c\n'b' WHERE id = 1", true).action ==
              RewritePlan::Action::Refuse);
        // pgrev parsed other bytes than the server will read.
        CHECK(plan_with("UPDATE reservation SET name = \xffmlpi(1)", true).action ==
              RewritePlan::Action::Refuse);
    }

    TEST_CASE("parse limits: same_major_version reads ParameterStatus server_version") {
        CHECK(same_major_version("15.20 (Debian 15.20-0+deb12u1)"));
        CHECK(same_major_version("15.1"));
        CHECK(same_major_version("15"));
        CHECK_FALSE(same_major_version("16.4"));
        CHECK_FALSE(same_major_version("150"));
        CHECK_FALSE(same_major_version("1"));
        CHECK_FALSE(same_major_version(""));
        CHECK(std::string(parser_version()) == "PostgreSQL 15");
    }
}
