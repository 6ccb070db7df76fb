// Statements pgrev refuses (docs/ARCHITECTURE.md, Refusals): the refused statement becomes a
// DO block that raises pgrev's error on the server, and each refusal has a policy switch that
// lets it through.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using test::plan;

namespace {

void check_refused(const audit::RewritePlan& p, const std::string& sqlstate,
                   const std::string& message_part) {
    CHECK_ACTION(p, Refuse);
    CHECK(p.refusal_sqlstate == sqlstate);
    CHECK(p.refusal_message.starts_with("pgrev: "));
    CHECK_CONTAINS(p.refusal_message, message_part);
    CHECK(p.sql == audit::refusal_statement(p.refusal_sqlstate, p.refusal_message));
    CHECK(p.sql.starts_with("DO $pgrev$BEGIN RAISE EXCEPTION USING ERRCODE = '" + sqlstate +
                            "', MESSAGE = 'pgrev: "));
    CHECK(test::is_single_do_block(p.sql));
    CHECK_FALSE(p.audits);
    CHECK(p.statements.size() == 1);
}

config::Audit allowing(bool config::Audit::*flag) {
    config::Audit policy;
    policy.*flag = true;
    return policy;
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("refusals: TRUNCATE, COPY FROM and MERGE of an audited table") {
        check_refused(plan("TRUNCATE reservation"), "0A000", "public.reservation");
        check_refused(plan("TRUNCATE TABLE other, public.reservation"), "0A000",
                      "TRUNCATE of audited table public.reservation");
        check_refused(plan("COPY reservation FROM STDIN"), "0A000",
                      "COPY FROM into audited table public.reservation");
        check_refused(plan("COPY reservation (id, name) FROM '/tmp/x' WITH (FORMAT csv)"), "0A000",
                      "public.reservation");
        check_refused(plan("MERGE INTO reservation r USING other o ON o.id = r.id "
                           "WHEN MATCHED THEN UPDATE SET party = o.n"),
                      "0A000", "MERGE into audited table public.reservation");
        check_refused(plan("truncate billing.invoice"), "0A000", "billing.invoice");
    }

    TEST_CASE("refusals: changes to a revision table") {
        check_refused(plan("UPDATE reservation_rev SET party = 1"), "42501",
                      "UPDATE of revision table public.reservation_rev");
        check_refused(plan("DELETE FROM public.reservation_rev WHERE id = 1"), "42501",
                      "DELETE of revision table public.reservation_rev");
        check_refused(plan("TRUNCATE reservation_rev"), "42501",
                      "TRUNCATE of revision table public.reservation_rev");
        check_refused(plan("DROP TABLE reservation_rev"), "42501",
                      "DROP of revision table public.reservation_rev");
        check_refused(plan("ALTER TABLE reservation_rev ADD COLUMN x int"), "42501",
                      "ALTER of revision table public.reservation_rev");
        check_refused(plan("ALTER TABLE reservation_rev RENAME TO old"), "42501",
                      "public.reservation_rev");
        check_refused(plan("MERGE INTO billing.invoice_rev r USING other o ON true "
                           "WHEN MATCHED THEN DELETE"),
                      "42501", "billing.invoice_rev");
        check_refused(plan("WITH d AS (DELETE FROM reservation_rev) SELECT 1"), "42501",
                      "public.reservation_rev");
    }

    TEST_CASE("refusals: text that does not parse") {
        auto p = plan("UPDATE reservation SET party = WHERE");
        check_refused(p, "42601", "does not parse");
        CHECK_CONTAINS(p.refusal_message, "syntax error");
        CHECK(p.statements.size() == 1);
    }

    TEST_CASE("refusals: EXPLAIN ANALYZE runs the statement, plain EXPLAIN does not") {
        for (const char* sql :
             {"EXPLAIN ANALYZE UPDATE reservation SET party = 1",
              "EXPLAIN (ANALYZE) DELETE FROM reservation",
              "EXPLAIN (ANALYZE true) UPDATE reservation SET party = 1",
              "EXPLAIN (ANALYZE on, BUFFERS) INSERT INTO reservation DEFAULT VALUES",
              "EXPLAIN (ANALYZE 1) UPDATE reservation SET party = 1",
              "EXPLAIN ANALYZE WITH u AS (DELETE FROM reservation RETURNING *) SELECT * FROM u"}) {
            INFO("sql: " << std::string(sql));
            check_refused(plan(sql), "0A000", "EXPLAIN ANALYZE");
        }
        CHECK(plan("EXPLAIN (ANALYZE false) UPDATE reservation SET party = 1").action ==
              audit::RewritePlan::Action::Forward);
        CHECK(plan("EXPLAIN (ANALYZE 0) UPDATE reservation SET party = 1").action ==
              audit::RewritePlan::Action::Forward);
    }

    TEST_CASE("refusals: a change inside COPY (query) TO") {
        check_refused(plan("COPY (DELETE FROM reservation RETURNING *) TO STDOUT"), "0A000",
                      "COPY (query) TO");
        CHECK(plan("COPY (SELECT * FROM reservation) TO STDOUT").action ==
              audit::RewritePlan::Action::Forward);
    }

    TEST_CASE("refusals: a change pgrev cannot rewrite in place") {
        // A FROM item RETURNING might name, in a form pgrev cannot return as a whole row.
        check_refused(plan("UPDATE reservation r SET party = 1 FROM other JOIN third USING (id) "
                           "RETURNING *"),
                      "0A000", "FROM/USING");
    }

    TEST_CASE("refusals: each policy switch forwards the statement") {
        using A = config::Audit;
        struct Case {
            const char* sql;
            bool A::*flag;
        };
        for (const Case& c :
             {Case{"TRUNCATE reservation", &A::allow_truncate},
              Case{"COPY reservation FROM STDIN", &A::allow_copy_from},
              Case{"MERGE INTO reservation r USING other o ON o.id = r.id WHEN MATCHED THEN DELETE",
                   &A::allow_merge},
              Case{"UPDATE reservation SET party = WHERE", &A::allow_unparsable},
              Case{"TRUNCATE reservation_rev", &A::allow_rev_table_changes},
              Case{"DROP TABLE reservation_rev", &A::allow_rev_table_changes},
              Case{"ALTER TABLE reservation_rev ADD COLUMN x int", &A::allow_rev_table_changes},
              Case{"MERGE INTO reservation_rev r USING other o ON true WHEN MATCHED THEN DELETE",
                   &A::allow_rev_table_changes}}) {
            INFO("sql: " << std::string(c.sql));
            CHECK_ACTION(plan(c.sql), Refuse);
            auto p = plan(c.sql, allowing(c.flag));
            CHECK_ACTION(p, Forward);
            CHECK(p.sql.empty());
            CHECK(p.refusal_sqlstate.empty());
        }
        // A switch lets through only its own kind of statement.
        CHECK_ACTION(plan("COPY reservation FROM STDIN", allowing(&A::allow_truncate)), Refuse);
        CHECK_ACTION(plan("TRUNCATE reservation_rev", allowing(&A::allow_truncate)), Refuse);
    }

    TEST_CASE("refusals: a refusal replaces only its own statement") {
        auto p = plan("SELECT 1; TRUNCATE reservation; SELECT 2");
        CHECK_ACTION(p, Refuse);
        REQUIRE(p.statements.size() == 3);
        std::string raise = audit::refusal_statement(p.refusal_sqlstate, p.refusal_message);
        CHECK(p.sql == "SELECT 1; " + raise + "; SELECT 2");

        auto mixed = plan("UPDATE reservation SET party = 1; DROP TABLE reservation_rev;");
        CHECK_ACTION(mixed, Refuse);
        CHECK(mixed.refusal_sqlstate == "42501");
        REQUIRE(mixed.statements.size() == 2);
        CHECK(mixed.statements[0].restore_tag == audit::TagVerb::Update);
        CHECK(mixed.sql.starts_with("WITH __pgrev_dml AS (UPDATE reservation SET party = 1 "));
        CHECK(
            mixed.sql.ends_with("FROM __pgrev_dml; DO $pgrev$BEGIN RAISE EXCEPTION USING "
                                "ERRCODE = '42501', MESSAGE = 'pgrev: DROP of revision table "
                                "public.reservation_rev is refused: revision history is "
                                "append-only'; END$pgrev$;"));
        // The first refusal is the one reported.
        auto two = plan("TRUNCATE reservation; TRUNCATE reservation_rev");
        CHECK(two.refusal_sqlstate == "0A000");
        CHECK_CONTAINS(two.sql, "ERRCODE = '42501'");
    }

    TEST_CASE("refusals: the message is always a valid literal") {
        auto p = plan("UPDATE reservation SET name = 'it''s");
        check_refused(p, "42601", "does not parse");
        CHECK_CONTAINS(p.refusal_message, "'it''s");
        CHECK_CONTAINS(p.sql, "''it''''s");

        config::AuditedTable odd;
        odd.name = "o'brien";
        audit::AuditedTableInfo info{"public", "o'brien", {"id"}, {"id"}, {}, {}, {}};
        audit::CatalogSnapshot catalog(std::vector<config::AuditedTable>{odd},
                                       std::vector<audit::AuditedTableInfo>{info});
        auto t = audit::plan_rewrite(R"(TRUNCATE "o'brien")", catalog, {}, true);
        check_refused(t, "0A000", "public.o'brien");
        CHECK_CONTAINS(t.sql, "public.o''brien");

        CHECK(audit::refusal_statement("0A000", "it's") ==
              "DO $pgrev$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = 'it''s'; "
              "END$pgrev$");
    }

    // A message that quotes the client's text may contain $pgrev$: it must not end the DO body.
    TEST_CASE("refusals: a message containing the dollar tag stays one DO block") {
        CHECK(test::is_single_do_block(audit::refusal_statement("0A000", "a $pgrev$ b")));
        auto p = plan("UPDATE reservation SET party = $pgrev$");
        CHECK_ACTION(p, Refuse);
        CHECK(test::is_single_do_block(p.sql));
        auto q = plan("UPDATE reservation SET party = 1 $pgrev$;DELETE FROM reservation;$pgrev$");
        CHECK_ACTION(q, Refuse);
        CHECK(test::is_single_do_block(q.sql));
    }

    // PostgreSQL applies EXPLAIN options in order, so the last ANALYZE wins and this runs the
    // UPDATE (checked on PostgreSQL 15.20).
    TEST_CASE("refusals: EXPLAIN with a repeated ANALYZE option, the last one true") {
        check_refused(
            plan("EXPLAIN (ANALYZE false, ANALYZE true) UPDATE reservation SET party = 1"), "0A000",
            "EXPLAIN ANALYZE");
    }

    // INSERT into a revision table is allowed only with rev_backfill; with ON CONFLICT DO UPDATE
    // it would rewrite an existing revision (rev_id is the primary key): refused even then.
    TEST_CASE("refusals: INSERT ... ON CONFLICT DO UPDATE into a revision table") {
        for (const config::Audit& policy :
             {config::Audit{}, allowing(&config::Audit::allow_rev_backfill)}) {
            check_refused(plan("INSERT INTO reservation_rev (rev_id, rev_created, rev_isdelete, "
                               "id) VALUES ('00000000-0000-0000-0000-000000000001', 0, false, 1) "
                               "ON CONFLICT (rev_id) DO UPDATE SET party = 99",
                               policy),
                          "42501", "public.reservation_rev");
        }
        CHECK_ACTION(plan("INSERT INTO reservation_rev (rev_id) VALUES (gen_random_uuid()) "
                          "ON CONFLICT DO NOTHING",
                          allowing(&config::Audit::allow_rev_backfill)),
                     Forward);
    }

    // With the switch, UPDATE/DELETE of a _rev table is no audited write, wherever it stands.
    TEST_CASE(
        "refusals: allow_rev_table_changes lets UPDATE and DELETE of a revision table through") {
        config::Audit policy;
        policy.allow_rev_table_changes = true;
        for (const char* sql :
             {"UPDATE reservation_rev SET party = 1", "DELETE FROM reservation_rev WHERE id = 1",
              "WITH d AS (DELETE FROM reservation_rev) SELECT 1"}) {
            INFO("sql: " << std::string(sql));
            auto p = plan(sql, policy);
            CHECK_ACTION(p, Forward);
            CHECK(p.refusal_message == "");
        }
    }
}

// Regressions (review): DDL that moves, renames or drops a table without an UPDATE/DELETE of
// it took it out of audit or destroyed its history.
TEST_SUITE("audit") {
    TEST_CASE("refusals: moving, renaming or cascading away audited and revision tables") {
        check_refused(plan("ALTER TABLE reservation SET SCHEMA tmp"), "0A000",
                      "ALTER ... SET SCHEMA of audited table public.reservation");
        check_refused(plan("ALTER TABLE reservation_rev SET SCHEMA tmp"), "42501",
                      "public.reservation_rev");
        check_refused(plan("ALTER TABLE public.reservation RENAME TO r2"), "0A000",
                      "RENAME of audited table public.reservation");
        check_refused(plan("ALTER TABLE reservation_rev RENAME TO r2"), "42501",
                      "public.reservation_rev");
        check_refused(plan("DROP SCHEMA public CASCADE"), "42501", "public.reservation_rev");
        check_refused(plan("DROP OWNED BY bob"), "42501", "DROP OWNED");
        CHECK_ACTION(plan("DROP SCHEMA public"), Forward);  // fails by itself when not empty
        CHECK_ACTION(plan("DROP SCHEMA elsewhere CASCADE"), Forward);
        auto column = plan("ALTER TABLE reservation RENAME COLUMN party TO guests");
        CHECK_ACTION(column, Forward);
        CHECK(column.changes_catalog);
        config::Audit allow;
        allow.allow_rev_table_changes = true;
        CHECK_ACTION(plan("DROP OWNED BY bob", allow), Forward);
        CHECK_ACTION(plan("DROP SCHEMA public CASCADE", allow), Forward);
    }

    TEST_CASE("refusals: text that does not parse and names no audited table is the server's") {
        CHECK_ACTION(plan("SELEC * FROM information_schema.tables"), Forward);
        CHECK_ACTION(plan("UPDAT reservation SET x = 1"), Refuse);
    }
}

// Regressions found by fuzz/ (fuzz_rewriter): see fuzz/regressions/.
TEST_SUITE("audit") {
    TEST_CASE("refusals: a data-modifying WITH in front of MERGE") {
        config::Audit allow_merge;
        allow_merge.allow_merge = true;
        const char* sql =
            "WITH d AS (DELETE FROM reservation WHERE id = 1 RETURNING id) MERGE INTO other o "
            "USING d ON o.id = d.id WHEN MATCHED THEN UPDATE SET n = 0";
        check_refused(plan(sql), "0A000", "public.reservation");
        check_refused(plan(sql, allow_merge), "0A000", "public.reservation");
        check_refused(plan(std::string("PREPARE m AS ") + sql), "0A000", "public.reservation");
    }

    TEST_CASE("refusals: UESCAPE in RETURNING is refused rather than spliced wrong") {
        check_refused(plan("UPDATE reservation r SET party = 1 RETURNING U&\"r\" UESCAPE '!'"),
                      "0A000", "UESCAPE");
    }

    TEST_CASE("rewriter: text that is not UTF-8 (LATIN1) is analysed like any other") {
        auto p = plan("UPDATE reservation SET name = 'caf\xe9' WHERE id = 1");
        CHECK_ACTION(p, Rewrite);
        CHECK_CONTAINS(p.sql, "SET name = 'caf\xe9' WHERE id = 1 RETURNING");
    }
}
