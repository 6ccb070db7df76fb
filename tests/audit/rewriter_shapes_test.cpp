// Rewrites of single INSERT/UPDATE/DELETE statements (docs/ARCHITECTURE.md, Life of a client
// message: the rewrite).
#include <doctest/doctest.h>

#include <string>

#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using audit::PreparedOp;
using audit::TagVerb;
using test::kRevInsert;
using test::plan;
using test::rev_values;

namespace {

// One rewritten statement that restores `verb`.
void check_single_rewrite(const audit::RewritePlan& p, TagVerb verb) {
    CHECK_ACTION(p, Rewrite);
    CHECK(p.audits);
    REQUIRE(p.statements.size() == 1);
    CHECK(p.statements[0].restore_tag == verb);
    CHECK(p.statements[0].prepared_op == PreparedOp::None);
    CHECK(p.refusal_message.empty());
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("rewriter: plain UPDATE becomes one data-modifying CTE") {
        auto p = plan("UPDATE reservation SET party = 4 WHERE name = 'Steve'");
        check_single_rewrite(p, TagVerb::Update);
        CHECK(p.sql ==
              "WITH __pgrev_dml AS (UPDATE reservation SET party = 4 WHERE name = 'Steve' "
              "RETURNING \"reservation\".*) " +
                  kRevInsert + "false" + rev_values() + " FROM __pgrev_dml");
    }

    TEST_CASE("rewriter: plain INSERT") {
        auto p = plan("INSERT INTO reservation (name, party) VALUES ('Steve', 4)");
        check_single_rewrite(p, TagVerb::Insert);
        CHECK_CONTAINS(p.sql,
                       "WITH __pgrev_dml AS (INSERT INTO reservation (name, party) VALUES "
                       "('Steve', 4) RETURNING \"reservation\".*) " +
                           kRevInsert + "false" + rev_values() + " FROM __pgrev_dml");
    }

    TEST_CASE("rewriter: DELETE records the key only, with rev_isdelete true") {
        auto p = plan("DELETE FROM reservation WHERE id = 1");
        check_single_rewrite(p, TagVerb::Delete);
        CHECK_CONTAINS(p.sql,
                       "WITH __pgrev_dml AS (DELETE FROM reservation WHERE id = 1 RETURNING "
                       "\"reservation\".*) " +
                           kRevInsert);
        // NULL named for the other columns: no default of a revision column applies.
        CHECK_CONTAINS(p.sql,
                       "::pg_catalog.float8, true, __pgrev_dml.\"id\", NULL, NULL, NULL, NULL, "
                       "NULL FROM __pgrev_dml");
        CHECK_NOT_CONTAINS(p.sql, "__pgrev_dml.\"party\"");
        CHECK_NOT_CONTAINS(p.sql, "false");
    }

    TEST_CASE("rewriter: DELETE of a full_row table records the whole row") {
        for (const char* sql :
             {"DELETE FROM billing.invoice WHERE no = 1", "DELETE FROM invoice WHERE no = 1"}) {
            INFO("sql: " << std::string(sql));
            auto p = plan(sql);
            check_single_rewrite(p, TagVerb::Delete);
            CHECK_CONTAINS(p.sql,
                           "RETURNING \"invoice\".*) INSERT INTO \"billing\".\"invoice_rev\" "
                           "(rev_id, rev_created, rev_isdelete, \"no\", \"year\", \"amount\")");
            CHECK_CONTAINS(p.sql,
                           "::pg_catalog.float8, true, __pgrev_dml.\"no\", __pgrev_dml.\"year\", "
                           "__pgrev_dml.\"amount\" FROM __pgrev_dml");
        }
    }

    TEST_CASE("rewriter: any spelling of the table's name is audited, the text kept verbatim") {
        for (const char* target :
             {"RESERVATION", "\"reservation\"", "public.reservation", "\"public\".\"reservation\"",
              "PUBLIC.Reservation", "U&\"\\0072eservation\"", "/* x */ reservation",
              "ONLY reservation", "reservation /* y */"}) {
            std::string sql = std::string("UPDATE ") + target + " SET party = 1";
            INFO("sql: " << std::string(sql));
            auto p = plan(sql);
            check_single_rewrite(p, TagVerb::Update);
            CHECK_CONTAINS(p.sql, "WITH __pgrev_dml AS (" + sql + " RETURNING \"reservation\".*) " +
                                      kRevInsert);
        }
        auto p = plan("delete /* a */ from /* b */ reservation where id = 2");
        check_single_rewrite(p, TagVerb::Delete);
        CHECK_CONTAINS(p.sql,
                       "(delete /* a */ from /* b */ reservation where id = 2 RETURNING "
                       "\"reservation\".*)");
    }

    TEST_CASE("rewriter: an alias names the returned rows; RETURNING is projected over them") {
        auto p =
            plan("UPDATE reservation AS r SET party = 4 WHERE id = $1 RETURNING r.id, party * 2");
        check_single_rewrite(p, TagVerb::Update);
        CHECK_CONTAINS(p.sql,
                       "WITH __pgrev_dml AS (UPDATE reservation AS r SET party = 4 WHERE id = $1 "
                       "RETURNING \"r\".*), __pgrev_rev AS (" +
                           kRevInsert + "false" + rev_values() + " FROM __pgrev_dml)");
        CHECK(p.sql.ends_with(") SELECT r.id, party * 2 FROM __pgrev_dml AS \"r\""));
    }

    TEST_CASE("rewriter: RETURNING without alias is projected under the table's name") {
        auto p = plan("DELETE FROM reservation WHERE id = 3 RETURNING *");
        check_single_rewrite(p, TagVerb::Delete);
        CHECK(p.sql.ends_with(" SELECT * FROM __pgrev_dml AS \"reservation\""));
        CHECK_CONTAINS(p.sql, "__pgrev_rev AS (INSERT INTO \"public\".\"reservation_rev\"");
    }

    TEST_CASE("rewriter: INSERT shapes") {
        SUBCASE("multi-row VALUES") {
            auto p = plan("INSERT INTO reservation (name) VALUES ('a'), ('b'), ('c')");
            check_single_rewrite(p, TagVerb::Insert);
            CHECK_CONTAINS(p.sql,
                           "(INSERT INTO reservation (name) VALUES ('a'), ('b'), ('c') "
                           "RETURNING \"reservation\".*)");
        }
        SUBCASE("INSERT ... SELECT") {
            auto p = plan("INSERT INTO reservation (name) SELECT name FROM other WHERE x > 1");
            check_single_rewrite(p, TagVerb::Insert);
            CHECK_CONTAINS(p.sql,
                           "(INSERT INTO reservation (name) SELECT name FROM other WHERE "
                           "x > 1 RETURNING \"reservation\".*)");
        }
        SUBCASE("DEFAULT VALUES") {
            auto p = plan("INSERT INTO reservation DEFAULT VALUES");
            check_single_rewrite(p, TagVerb::Insert);
            CHECK_CONTAINS(p.sql,
                           "(INSERT INTO reservation DEFAULT VALUES RETURNING \"reservation\".*)");
        }
        SUBCASE("ON CONFLICT DO NOTHING") {
            auto p = plan("INSERT INTO reservation (id) VALUES (1) ON CONFLICT DO NOTHING");
            check_single_rewrite(p, TagVerb::Insert);
            CHECK_CONTAINS(p.sql,
                           "(INSERT INTO reservation (id) VALUES (1) ON CONFLICT DO "
                           "NOTHING RETURNING \"reservation\".*)");
        }
        SUBCASE("ON CONFLICT DO UPDATE with alias and RETURNING") {
            auto p = plan(
                "INSERT INTO reservation AS r (id, name) VALUES (1, 'a') ON CONFLICT (id) DO "
                "UPDATE SET name = excluded.name WHERE r.party > 0 RETURNING r.id");
            check_single_rewrite(p, TagVerb::Insert);
            CHECK_CONTAINS(p.sql,
                           "DO UPDATE SET name = excluded.name WHERE r.party > 0 "
                           "RETURNING \"r\".*), __pgrev_rev AS (");
            CHECK(p.sql.ends_with(" SELECT r.id FROM __pgrev_dml AS \"r\""));
        }
    }

    TEST_CASE("rewriter: parameters keep their numbers") {
        auto p = plan("UPDATE reservation SET party = $2 WHERE id = $1 RETURNING party + $3");
        check_single_rewrite(p, TagVerb::Update);
        CHECK_CONTAINS(p.sql, "(UPDATE reservation SET party = $2 WHERE id = $1 RETURNING");
        CHECK(p.sql.ends_with(" SELECT party + $3 FROM __pgrev_dml AS \"reservation\""));
    }

    TEST_CASE("rewriter: RETURNING after a comment or with odd spacing") {
        auto p = plan("UPDATE reservation SET party = 1 -- why\n  RETURNING\tid /* c */ , name");
        check_single_rewrite(p, TagVerb::Update);
        CHECK_CONTAINS(p.sql, "(UPDATE reservation SET party = 1 RETURNING \"reservation\".*)");
        CHECK(p.sql.ends_with(" SELECT id /* c */ , name FROM __pgrev_dml AS \"reservation\""));
    }
}

TEST_SUITE("audit") {
    TEST_CASE("rewriter: an unqualified target gets a search_path guard, a qualified one not") {
        auto unqualified = test::plan_with_guards("UPDATE reservation SET party = 4");
        CHECK_CONTAINS(unqualified.sql, "FROM __pgrev_dml WHERE " +
                                            test::column_count_guard("reservation", "public", 6) +
                                            " AND " +
                                            test::search_path_guard("reservation", "public"));
        auto qualified = test::plan_with_guards("UPDATE public.reservation SET party = 4");
        CHECK_ACTION(qualified, Rewrite);
        CHECK_NOT_CONTAINS(qualified.sql, "search_path finds");
        auto in_cte = test::plan_with_guards(
            "WITH u AS (DELETE FROM invoice WHERE no = 1 RETURNING *) SELECT * FROM u");
        CHECK_CONTAINS(in_cte.sql,
                       "FROM __pgrev_dml_1 WHERE (SELECT pg_catalog.count(*) FROM \"u\") "
                       "OPERATOR(pg_catalog.>=) 0 AND " +
                           test::column_count_guard("invoice", "billing", 3) + " AND " +
                           test::search_path_guard("invoice", "billing") + ")");
    }
}
