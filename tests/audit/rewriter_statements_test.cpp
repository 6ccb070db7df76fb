// Rewrites that involve the rest of the text: the user's WITH, DML in the user's CTEs, several
// statements in one text, trailing comments, SQL-level PREPARE and friends, and what is left alone.
#include <doctest/doctest.h>

#include <string>

#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using audit::PreparedOp;
using audit::TagVerb;
using test::plan;

TEST_SUITE("audit") {
    TEST_CASE("rewriter: the user's WITH stays in front of pgrev's CTEs") {
        auto p = plan("WITH t AS (SELECT 1 AS n) UPDATE reservation SET party = (SELECT n FROM t)");
        CHECK_ACTION(p, Rewrite);
        REQUIRE(p.statements.size() == 1);
        CHECK(p.statements[0].restore_tag == TagVerb::Update);
        CHECK(p.sql.starts_with(
            "WITH t AS (SELECT 1 AS n), __pgrev_dml AS (UPDATE reservation SET party = (SELECT n "
            "FROM t) RETURNING \"reservation\".*) INSERT INTO \"public\".\"reservation_rev\""));
    }

    TEST_CASE("rewriter: WITH RECURSIVE keeps RECURSIVE once, in front") {
        auto p = plan(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
            "DELETE FROM reservation WHERE id IN (SELECT n FROM t)");
        CHECK_ACTION(p, Rewrite);
        REQUIRE(p.statements.size() == 1);
        CHECK(p.statements[0].restore_tag == TagVerb::Delete);
        CHECK(p.sql.starts_with(
            "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3), "
            "__pgrev_dml AS (DELETE FROM reservation WHERE id IN (SELECT n FROM t) RETURNING "
            "\"reservation\".*) INSERT INTO"));
        CHECK(p.sql.find("RECURSIVE") == p.sql.rfind("RECURSIVE"));
    }

    TEST_CASE("rewriter: a DML in the user's CTE becomes pgrev's CTEs and a projection") {
        auto p = plan("WITH u AS (UPDATE reservation SET party = 1 RETURNING *) SELECT * FROM u");
        CHECK_ACTION(p, Rewrite);
        CHECK(p.audits);
        REQUIRE(p.statements.size() == 1);
        CHECK(p.statements[0].restore_tag == TagVerb::None);  // the client sees its SELECT
        // The projection is materialized and read whole by the revision insert: PostgreSQL
        // evaluates a data-modifying WITH's RETURNING for every row, read or not.
        CHECK(p.sql ==
              "WITH __pgrev_dml_1 AS (UPDATE reservation SET party = 1 RETURNING "
              "\"reservation\".*), u AS MATERIALIZED (SELECT * FROM __pgrev_dml_1 AS "
              "\"reservation\"), __pgrev_rev_1 AS (INSERT INTO \"public\".\"reservation_rev\" "
              "(rev_id, rev_created, rev_isdelete, \"id\", \"name\", \"date\", \"time\", "
              "\"party\", \"last_modified\") SELECT pg_catalog.gen_random_uuid(), extract(epoch "
              "from pg_catalog.clock_timestamp())::pg_catalog.float8, false" +
                  test::rev_values("__pgrev_dml_1") +
                  " FROM __pgrev_dml_1 WHERE (SELECT pg_catalog.count(*) FROM \"u\") "
                  "OPERATOR(pg_catalog.>=) 0) SELECT * FROM u");
    }

    TEST_CASE("rewriter: DML CTEs without RETURNING, with column lists, several of them") {
        auto p = plan(
            "WITH u(i) AS (UPDATE reservation SET party = 1 RETURNING id), "
            "d AS (DELETE FROM invoice WHERE no = 2) SELECT * FROM u");
        CHECK_ACTION(p, Rewrite);
        CHECK_CONTAINS(p.sql,
                       "u(i) AS MATERIALIZED (SELECT id FROM __pgrev_dml_1 AS \"reservation\")");
        CHECK_CONTAINS(p.sql,
                       "__pgrev_dml_2 AS (DELETE FROM invoice WHERE no = 2 RETURNING "
                       "\"invoice\".*), __pgrev_rev_2 AS (INSERT INTO \"billing\".");
        CHECK_CONTAINS(p.sql, "d AS (SELECT FROM __pgrev_dml_2) SELECT * FROM u");
    }

    TEST_CASE("rewriter: DML in the user's CTE and in the main statement") {
        auto p = plan(
            "WITH u AS (DELETE FROM reservation WHERE id = 1 RETURNING id) "
            "INSERT INTO reservation (id) SELECT id + 100 FROM u");
        CHECK_ACTION(p, Rewrite);
        REQUIRE(p.statements.size() == 1);
        CHECK(p.statements[0].restore_tag == TagVerb::Insert);
        CHECK(p.sql.starts_with(
            "WITH __pgrev_dml_1 AS (DELETE FROM reservation WHERE id = 1 RETURNING "
            "\"reservation\".*), u AS MATERIALIZED (SELECT id FROM __pgrev_dml_1 AS "
            "\"reservation\"), __pgrev_rev_1 AS (INSERT INTO"));
        CHECK_CONTAINS(p.sql,
                       "FROM __pgrev_dml_1 WHERE (SELECT pg_catalog.count(*) FROM \"u\") "
                       "OPERATOR(pg_catalog.>=) 0), __pgrev_dml AS (INSERT INTO reservation (id) "
                       "SELECT id + 100 FROM u RETURNING \"reservation\".*) INSERT INTO");
    }

    TEST_CASE("rewriter: several statements, only the audited one changes") {
        auto p = plan("SELECT 1; UPDATE reservation SET party = 2; select 'reservation'");
        CHECK_ACTION(p, Rewrite);
        REQUIRE(p.statements.size() == 3);
        CHECK(p.statements[0].restore_tag == TagVerb::None);
        CHECK(p.statements[1].restore_tag == TagVerb::Update);
        CHECK(p.statements[2].restore_tag == TagVerb::None);
        CHECK(
            p.sql.starts_with("SELECT 1; WITH __pgrev_dml AS (UPDATE reservation SET party = 2 "
                              "RETURNING \"reservation\".*) INSERT INTO"));
        CHECK(p.sql.ends_with("FROM __pgrev_dml; select 'reservation'"));

        auto two = plan("DELETE FROM reservation;DELETE FROM invoice;");
        REQUIRE(two.statements.size() == 2);
        CHECK(two.statements[0].restore_tag == TagVerb::Delete);
        CHECK(two.statements[1].restore_tag == TagVerb::Delete);
        CHECK_CONTAINS(two.sql, "FROM __pgrev_dml;WITH __pgrev_dml AS (DELETE FROM invoice");
        CHECK(two.sql.ends_with("FROM __pgrev_dml;"));
    }

    TEST_CASE("rewriter: a trailing -- comment stays after the rewrite") {
        auto p = plan("UPDATE reservation SET party = 1 -- the end");
        CHECK_ACTION(p, Rewrite);
        CHECK(p.sql.ends_with("false" + test::rev_values() + " FROM __pgrev_dml -- the end"));
        auto r = plan("UPDATE reservation SET party = 1 RETURNING id -- the end");
        CHECK(r.sql.ends_with(" SELECT id FROM __pgrev_dml AS \"reservation\" -- the end"));
        auto s = plan("UPDATE reservation SET party = 1; -- the end");
        CHECK(s.sql.ends_with("FROM __pgrev_dml; -- the end"));
        auto c = plan("/* lead */ UPDATE reservation SET party = 1");
        CHECK(c.sql.starts_with("/* lead */ WITH __pgrev_dml AS (UPDATE"));
    }

    TEST_CASE("rewriter: PREPARE of an audited DML is rewritten after AS") {
        auto p = plan("PREPARE p (int, int) AS UPDATE reservation SET party = $1 WHERE id = $2");
        CHECK_ACTION(p, Rewrite);
        REQUIRE(p.statements.size() == 1);
        const auto& s = p.statements[0];
        CHECK(s.prepared_op == PreparedOp::Prepare);
        CHECK(s.prepared_name == "p");
        CHECK(s.prepared_tag == TagVerb::Update);
        CHECK(s.restore_tag == TagVerb::None);  // PREPARE's own tag is "PREPARE"
        CHECK(
            p.sql.starts_with("PREPARE p (int, int) AS WITH __pgrev_dml AS (UPDATE reservation "
                              "SET party = $1 WHERE id = $2 RETURNING \"reservation\".*) INSERT"));

        auto q = plan("prepare \"Q\" as delete from reservation where id = $1 returning id");
        REQUIRE(q.statements.size() == 1);
        CHECK(q.statements[0].prepared_name == "Q");
        CHECK(q.statements[0].prepared_tag == TagVerb::Delete);
        CHECK(q.sql.starts_with("prepare \"Q\" as WITH __pgrev_dml AS (delete from reservation"));
        CHECK(q.sql.ends_with(" SELECT id FROM __pgrev_dml AS \"reservation\""));
    }

    TEST_CASE("rewriter: PREPARE of anything else is only bookkeeping") {
        auto p = plan("PREPARE s AS SELECT * FROM reservation");
        CHECK_ACTION(p, Forward);
        CHECK(p.sql.empty());
        REQUIRE(p.statements.size() == 1);
        CHECK(p.statements[0].prepared_op == PreparedOp::Prepare);
        CHECK(p.statements[0].prepared_name == "s");
        CHECK(p.statements[0].prepared_tag == TagVerb::None);
    }

    TEST_CASE("rewriter: EXECUTE, DEALLOCATE and DISCARD ALL ops") {
        struct Case {
            const char* sql;
            PreparedOp op;
            const char* name;
        };
        for (const Case& c : {Case{"EXECUTE p(1, 2)", PreparedOp::Execute, "p"},
                              Case{"execute \"Q\"", PreparedOp::Execute, "Q"},
                              Case{"DEALLOCATE p", PreparedOp::Deallocate, "p"},
                              Case{"DEALLOCATE PREPARE p", PreparedOp::Deallocate, "p"},
                              Case{"DEALLOCATE ALL", PreparedOp::DeallocateAll, ""},
                              Case{"DISCARD ALL", PreparedOp::DeallocateAll, ""},
                              Case{"DISCARD PLANS", PreparedOp::None, ""}}) {
            INFO("sql: " << std::string(c.sql));
            auto p = plan(c.sql);
            CHECK_ACTION(p, Forward);
            CHECK(p.sql.empty());
            REQUIRE(p.statements.size() == 1);
            CHECK(p.statements[0].prepared_op == c.op);
            CHECK(p.statements[0].prepared_name == c.name);
            CHECK(p.statements[0].restore_tag == TagVerb::None);
        }
        auto many = plan("EXECUTE a; DEALLOCATE a; SELECT 1");
        REQUIRE(many.statements.size() == 3);
        CHECK(many.statements[0].prepared_op == PreparedOp::Execute);
        CHECK(many.statements[1].prepared_op == PreparedOp::Deallocate);
        CHECK(many.statements[2].prepared_op == PreparedOp::None);
    }

    TEST_CASE("rewriter: statements that do not write an audited table are forwarded") {
        for (const char* sql :
             {"UPDATE reservations SET party = 1", "UPDATE my_reservation SET party = 1",
              "UPDATE other.reservation SET party = 1", "UPDATE public.invoice SET amount = 1",
              "UPDATE \"Reservation\" SET party = 1", "SELECT 'UPDATE reservation SET x=1'",
              "SELECT $$DELETE FROM reservation$$", "SELECT 1 -- delete from reservation",
              "SELECT 1 /* truncate reservation */", "SELECT * FROM reservation",
              "SELECT * FROM reservation FOR UPDATE", "COPY reservation TO STDOUT",
              "COPY (SELECT * FROM reservation) TO STDOUT",
              "EXPLAIN UPDATE reservation SET party = 1",
              "EXPLAIN (ANALYZE false) UPDATE reservation SET party = 1",
              "EXPLAIN (ANALYZE off, COSTS off) DELETE FROM reservation",
              "EXPLAIN ANALYZE SELECT * FROM reservation",
              "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM reservations'",
              "CREATE VIEW v AS SELECT * FROM reservation"}) {
            INFO("sql: " << std::string(sql));
            auto p = plan(sql);
            CHECK_ACTION(p, Forward);
            CHECK(p.sql.empty());
            CHECK_FALSE(p.audits);
            CHECK(p.refusal_sqlstate.empty());
            REQUIRE(p.statements.size() == 1);
            CHECK(p.statements[0].restore_tag == TagVerb::None);
        }
    }
}
