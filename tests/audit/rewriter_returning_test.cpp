// RETURNING over the returned rows: the named form, and the whole-row form that UPDATE ... FROM
// and DELETE ... USING need when RETURNING may name their FROM items (SiteWriter::projection).
#include <doctest/doctest.h>

#include <string>

#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using audit::TagVerb;
using test::contains;
using test::kRevInsert;
using test::plan;

namespace {

void check_single_rewrite(const audit::RewritePlan& p, TagVerb verb) {
    CHECK_ACTION(p, Rewrite);
    REQUIRE(p.statements.size() == 1);
    CHECK(p.statements[0].restore_tag == verb);
}

bool refused(const audit::RewritePlan& p) {
    return p.action == audit::RewritePlan::Action::Refuse;
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("rewriter: UPDATE ... FROM with RETURNING uses whole rows") {
        auto p =
            plan("UPDATE reservation r SET party = o.n FROM other o WHERE o.id = r.id RETURNING *");
        check_single_rewrite(p, TagVerb::Update);
        CHECK_CONTAINS(p.sql,
                       "RETURNING ROW(\"r\".*)::\"public\".\"reservation\" AS __pgrev_row, "
                       "ROW(\"o\".*)::\"other\" AS __pgrev_from1)");
        CHECK_CONTAINS(p.sql, "false" + test::rev_values("(__pgrev_row)") + " FROM __pgrev_dml)");
        // The bare * must not also expand pgrev's own columns.
        CHECK(
            p.sql.ends_with(" SELECT \"r\".*, \"o\".* FROM __pgrev_dml, LATERAL (SELECT "
                            "(__pgrev_row).*) AS \"r\", LATERAL (SELECT (__pgrev_from1).*) AS "
                            "\"o\""));
    }

    TEST_CASE("rewriter: DELETE ... USING with RETURNING uses whole rows, key-only revision") {
        auto p = plan(
            "DELETE FROM reservation r USING other o, billing.x AS b WHERE o.id = r.id "
            "RETURNING r.id, o.x, b.*");
        check_single_rewrite(p, TagVerb::Delete);
        CHECK_CONTAINS(p.sql,
                       "RETURNING ROW(\"r\".*)::\"public\".\"reservation\" AS __pgrev_row, "
                       "ROW(\"o\".*)::\"other\" AS __pgrev_from1, "
                       "ROW(\"b\".*)::\"billing\".\"x\" AS __pgrev_from2)");
        CHECK_CONTAINS(p.sql,
                       "true, (__pgrev_row).\"id\", NULL, NULL, NULL, NULL, NULL FROM "
                       "__pgrev_dml)");
        CHECK(
            p.sql.ends_with(" SELECT r.id, o.x, b.* FROM __pgrev_dml, LATERAL (SELECT "
                            "(__pgrev_row).*) AS \"r\", LATERAL (SELECT (__pgrev_from1).*) AS "
                            "\"o\", LATERAL (SELECT (__pgrev_from2).*) AS \"b\""));
    }

    TEST_CASE("rewriter: FROM items that are CTEs, subqueries or joins") {
        auto p = plan(
            "WITH c AS (SELECT 1 AS id) UPDATE reservation r SET party = 1 FROM c, "
            "(SELECT 2 AS k) s, other o JOIN third t ON t.id = o.id WHERE r.id = c.id RETURNING *");
        check_single_rewrite(p, TagVerb::Update);
        // A CTE's or subquery's whole row keeps its column names without a cast.
        CHECK_CONTAINS(p.sql,
                       "AS __pgrev_row, \"c\" AS __pgrev_from1, \"s\" AS __pgrev_from2, "
                       "ROW(\"o\".*)::\"other\" AS __pgrev_from3, ROW(\"t\".*)::\"third\" AS "
                       "__pgrev_from4)");
        CHECK_CONTAINS(p.sql,
                       "SELECT \"r\".*, \"c\".*, \"s\".*, \"o\".*, \"t\".* FROM __pgrev_dml");
    }

    TEST_CASE("rewriter: UPDATE ... FROM and DELETE ... USING without RETURNING use names") {
        auto u = plan("UPDATE reservation r SET party = o.n FROM other o WHERE o.id = r.id");
        check_single_rewrite(u, TagVerb::Update);
        CHECK_CONTAINS(u.sql, "WHERE o.id = r.id RETURNING \"r\".*) " + kRevInsert + "false" +
                                  test::rev_values() + " FROM __pgrev_dml");
        CHECK_NOT_CONTAINS(u.sql, "__pgrev_row");
        auto d = plan("DELETE FROM reservation USING other o WHERE o.id = reservation.id");
        check_single_rewrite(d, TagVerb::Delete);
        CHECK_CONTAINS(d.sql, "RETURNING \"reservation\".*) INSERT INTO");
        CHECK_NOT_CONTAINS(d.sql, "__pgrev_row");
        CHECK_NOT_CONTAINS(d.sql, "__pgrev_rev");
    }

    // The whole-row value of a function returning a scalar is the scalar itself: it goes back
    // as ROW(g.*) and is unpacked under the column names the client gave (or the alias, which is
    // what PostgreSQL names a scalar set-returning function's column).
    TEST_CASE("rewriter: UPDATE ... FROM a scalar function with RETURNING") {
        auto p = plan(
            "UPDATE reservation r SET party = g.n FROM generate_series(1, 3) AS g(n) "
            "WHERE r.id = g.n RETURNING r.id, g.n");
        CHECK_ACTION(p, Rewrite);
        CHECK_CONTAINS(p.sql, "ROW(\"g\".*) AS __pgrev_from1");
        CHECK_CONTAINS(p.sql, "LATERAL (SELECT (__pgrev_from1).*) AS \"g\"(\"n\")");
        auto u = plan(
            "UPDATE reservation r SET party = 1 FROM unnest($1::int[]) AS ids "
            "WHERE r.id = ids RETURNING ids");
        CHECK_CONTAINS(u.sql, "LATERAL (SELECT (__pgrev_from1).*) AS \"ids\"(\"ids\")");
    }

    // A table cast back to its type has the table's column names; the client's column aliases
    // are put back when it is unpacked.
    TEST_CASE("rewriter: UPDATE ... FROM a table with column aliases and RETURNING") {
        auto p = plan(
            "UPDATE reservation r SET party = o.a FROM other o(a, b) WHERE o.a = r.id "
            "RETURNING o.b");
        CHECK_ACTION(p, Rewrite);
        CHECK_CONTAINS(p.sql, "ROW(\"o\".*)::\"other\" AS __pgrev_from1");
        CHECK_CONTAINS(p.sql, "AS \"o\"(\"a\", \"b\")");
    }

    // The projection reads a CTE, which has no system columns: the DML returns the ones used as
    // ordinary columns of the same names, and `*` lists the table's columns.
    TEST_CASE("rewriter: RETURNING system columns (the xmax idiom of upserts)") {
        auto c = plan(
            "INSERT INTO reservation (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET "
            "party = 1 RETURNING *, (xmax = 0) AS inserted, reservation.tableoid::regclass");
        CHECK_ACTION(c, Rewrite);
        CHECK_CONTAINS(c.sql,
                       "RETURNING \"reservation\".*, \"reservation\".xmax AS xmax, "
                       "\"reservation\".tableoid AS tableoid)");
        CHECK_CONTAINS(c.sql, "false, __pgrev_dml.\"id\", __pgrev_dml.\"name\"");
        CHECK_CONTAINS(c.sql,
                       "SELECT \"reservation\".\"id\", \"reservation\".\"name\", "
                       "\"reservation\".\"date\", \"reservation\".\"time\", "
                       "\"reservation\".\"party\", \"reservation\".\"last_modified\", "
                       "(xmax = 0) AS inserted");
        auto whole = plan("UPDATE reservation r SET party = 2 RETURNING r.ctid, r");
        CHECK(refused(whole));
        CHECK_CONTAINS(whole.refusal_message, "whole-row value together with system columns");
    }

    TEST_CASE("rewriter: RETURNING a schema-qualified column is refused with a reason") {
        auto q = plan("UPDATE public.reservation SET party = 1 RETURNING public.reservation.id");
        CHECK(refused(q));
        CHECK_CONTAINS(q.refusal_message, "schema-qualified");
    }

    // Regression (node-postgres, psycopg 3, asyncpg): over pgrev's CTE a bare table name is a
    // row of type record; it is cast back to the table's type, keeping its name.
    TEST_CASE("rewriter: a whole-row reference in RETURNING keeps the table's type") {
        auto p = plan("UPDATE reservation AS r SET party = 10 WHERE r.id = $1 RETURNING r.id, r");
        CHECK_CONTAINS(p.sql,
                       "SELECT r.id, \"r\"::\"public\".\"reservation\" FROM __pgrev_dml AS \"r\"");
        auto bare = plan("DELETE FROM reservation WHERE id = 1 RETURNING reservation");
        CHECK_CONTAINS(bare.sql, "SELECT \"reservation\"::\"public\".\"reservation\" FROM");
        // A column named like the alias is a column, not the row.
        auto column = plan("UPDATE reservation AS name SET party = 1 RETURNING name");
        CHECK_CONTAINS(column.sql, "SELECT name FROM __pgrev_dml AS \"name\"");
    }

    TEST_CASE("rewriter: CREATE TABLE AS EXECUTE is marked for the session to check") {
        auto p = plan("CREATE TABLE t AS EXECUTE up(1)");
        CHECK_ACTION(p, Forward);
        REQUIRE(p.statements.size() == 1);
        CHECK(p.statements[0].prepared_op == audit::PreparedOp::CreateTableAsExecute);
        CHECK(p.statements[0].prepared_name == "up");
    }

    // Whether a prepared form of the rewrite could change its result type after DDL made
    // behind pgrev's back other than by a returned column's type (server/own_statements.h).
    TEST_CASE("rewriter: RETURNING names its result columns, or shows whole rows") {
        for (const char* sql :
             {"UPDATE reservation SET party = 1",
              "UPDATE reservation SET party = 1 RETURNING id, party * 2 AS twice",
              "UPDATE reservation r SET party = 1 RETURNING r.id, lower(r.name), (xmax = 0)",
              "INSERT INTO reservation (name) VALUES ('a') RETURNING \"reservation\".\"id\"",
              "DELETE FROM reservation RETURNING (SELECT count(*) FROM other)"}) {
            INFO(sql);
            auto p = plan(sql);
            CHECK_ACTION(p, Rewrite);
            CHECK(p.result_columns_named);
        }
        for (const char* sql :
             {"UPDATE reservation SET party = 1 RETURNING *",
              "UPDATE reservation r SET party = 1 RETURNING id, r.*",
              "UPDATE reservation SET party = 1 RETURNING row_to_json(reservation)",
              "UPDATE reservation SET party = 1 RETURNING (SELECT o FROM (SELECT * FROM other) o)",
              "UPDATE reservation r SET party = o.n FROM other o WHERE o.id = r.id RETURNING r.id",
              "WITH w AS (UPDATE reservation SET party = 1 RETURNING id) SELECT id FROM w",
              "UPDATE reservation SET party = 1; UPDATE reservation SET party = 2 RETURNING *"}) {
            INFO(sql);
            auto p = plan(sql);
            CHECK_ACTION(p, Rewrite);
            CHECK_FALSE(p.result_columns_named);
        }
    }
}
