// Audited and revision tables reached without being named (issue 7 items 3-5): through a
// parent they inherit from or a partitioned table they are a partition of, through a schema
// renamed under them, through rules, triggers and parents of the history, through
// DROP ... CASCADE of what the history depends on, and through a relation that takes a
// history's name. Each refusal leaves the audited table and its history as they were, and the
// session usable; what is not refused is audited.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// Refused by pgrev with `sqlstate`, naming `names`; the session is usable after it.
void check_refused(PgConn& app, const std::string& sql, const std::string& sqlstate,
                   const std::string& names) {
    CAPTURE(sql);
    Outcome o = simple(app, sql);
    CHECK_MESSAGE(o.sqlstate == sqlstate, o.describe());
    CHECK_MESSAGE(o.message.rfind("pgrev: ", 0) == 0, o.describe());
    CHECK_MESSAGE(contains(o.message, names), o.describe());
    CHECK(PQtransactionStatus(app.get()) == PQTRANS_IDLE);
    CHECK(simple(app, "SELECT 1").rows == std::vector<std::string>{"1"});
}

std::string snapshot(PgConn& direct, const std::vector<std::string>& tables) {
    std::string text;
    for (const auto& t : tables)
        text += t + ":\n" + contents(direct, t);
    return text;
}

const char* const kDrop =
    "DROP TABLE IF EXISTS lk_base, lk_t, lk_t_rev, lk_p, lk_part, lk_part_rev, lk_pt, lk_pt_rev, "
    "lk_other, lk_rev_parent, lk_m, lk_m_rev, lk_late, lk_late_rev, lk_junk CASCADE;"
    "DROP VIEW IF EXISTS lk_late_rev, lk_v;"
    "DROP SCHEMA IF EXISTS lk_s, lk_s2 CASCADE;"
    "DROP TYPE IF EXISTS feeling_x CASCADE;"
    "DROP FUNCTION IF EXISTS lk_swallow()";

const char* const kAudit = "{tables: [reservation, lk_t, lk_part, lk_pt, lk_m, lk_late, lk_s.t]}";

}  // namespace

TEST_CASE("writes through a parent or a partitioned table that reach an audited table") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    // Links made directly on PostgreSQL: pgrev reads them from the catalog.
    exec(direct,
         "CREATE TABLE lk_base (id int, v text);"
         "CREATE TABLE lk_t (id int PRIMARY KEY, v text);"
         "ALTER TABLE lk_t INHERIT lk_base;"
         "CREATE TABLE lk_p (id int, v text) PARTITION BY LIST (id);"
         "CREATE TABLE lk_part (id int PRIMARY KEY, v text);"
         "ALTER TABLE lk_p ATTACH PARTITION lk_part FOR VALUES IN (1, 2, 3)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(PgrevLimits{}, kAudit);
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO lk_t VALUES (1, 'one')").tag == "INSERT 0 1");
    CHECK(simple(app, "INSERT INTO lk_part VALUES (1, 'one')").tag == "INSERT 0 1");
    const std::vector<std::string> tables = {"lk_t", "lk_t_rev", "lk_part", "lk_part_rev"};
    std::string before = snapshot(direct, tables);

    for (const char* sql :
         {"UPDATE lk_base SET v = 'unaudited'", "DELETE FROM lk_base", "TRUNCATE lk_base",
          "WITH d AS (DELETE FROM public.lk_base RETURNING 1) SELECT 1"}) {
        check_refused(app, sql, "0A000", "public.lk_t");
    }
    for (const char* sql :
         {"INSERT INTO lk_p VALUES (2, 'routed')", "UPDATE lk_p SET v = 'unaudited'",
          "DELETE FROM lk_p", "TRUNCATE lk_p",
          "MERGE INTO lk_p p USING (VALUES (1)) s(id) ON p.id = s.id WHEN MATCHED THEN DELETE"}) {
        check_refused(app, sql, "0A000", "public.lk_part");
    }
    CHECK(snapshot(direct, tables) == before);
    // ONLY keeps to the parent's own rows; reads are reads.
    CHECK(simple(app, "UPDATE ONLY lk_base SET v = 'own rows'").tag == "UPDATE 0");
    CHECK(simple(app, "SELECT count(*) FROM lk_base").rows == std::vector<std::string>{"1"});

    // In a transaction block the refusal fails the block, as any error would.
    exec(app, "BEGIN");
    Outcome o = simple(app, "DELETE FROM lk_p");
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    CHECK(simple(app, "COMMIT").tag == "ROLLBACK");
    CHECK(snapshot(direct, tables) == before);
}

TEST_CASE("DDL through pgrev that would give an audited table a parent, or a new partition") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct,
         "CREATE TABLE lk_t (id int PRIMARY KEY, v text);"
         "CREATE TABLE lk_other (id int, v text);"
         "CREATE TABLE lk_p (id int, v text) PARTITION BY LIST (id);"
         "CREATE TABLE lk_pt (id int, v text) PARTITION BY LIST (id);"
         "CREATE TABLE lk_pt_1 PARTITION OF lk_pt FOR VALUES IN (1)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(PgrevLimits{}, kAudit);
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO lk_t VALUES (1, 'one')").tag == "INSERT 0 1");
    const std::vector<std::string> tables = {"lk_t", "lk_t_rev", "lk_pt", "lk_pt_rev"};
    std::string before = snapshot(direct, tables);

    check_refused(app, "ALTER TABLE lk_t INHERIT lk_other", "0A000", "public.lk_t");
    check_refused(app, "ALTER TABLE lk_p ATTACH PARTITION lk_t FOR VALUES IN (1)", "0A000",
                  "public.lk_t");
    check_refused(app, "CREATE TABLE lk_c () INHERITS (lk_t, lk_other)", "0A000", "public.lk_t");
    CHECK(rows(direct,
               "SELECT inhparent::regclass::text FROM pg_inherits "
               "WHERE inhrelid = 'lk_t'::regclass")
              .empty());

    // A partition created in a transaction is written to only through its audited table, in
    // the same Query and in the next ones, before pgrev's catalog connection can see it.
    exec(app, "BEGIN");
    CHECK(simple(app, "CREATE TABLE lk_pt_9 PARTITION OF lk_pt FOR VALUES IN (9)").ok());
    Outcome o = simple(app, "INSERT INTO lk_pt_9 VALUES (9, 'unaudited')");
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    CHECK_MESSAGE(contains(o.message, "lk_pt_9"), o.describe());
    exec(app, "ROLLBACK");
    exec(app, "BEGIN");
    o = simple(app,
               "CREATE TABLE lk_pt_8 PARTITION OF lk_pt FOR VALUES IN (8);"
               "UPDATE lk_pt_1 SET v = 'x'; DELETE FROM lk_pt_8");
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    exec(app, "ROLLBACK");
    // Its name need not contain the audited table's for pgrev to see it in the next Query.
    exec(app, "BEGIN");
    CHECK(simple(app, "CREATE TABLE month_9 PARTITION OF lk_pt FOR VALUES IN (9)").ok());
    o = simple(app, "INSERT INTO month_9 VALUES (9, 'unaudited')");
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    CHECK_MESSAGE(contains(o.message, "month_9"), o.describe());
    exec(app, "ROLLBACK");
    // Attaching one is refused: its rows would join without revisions (bypass_refusals_test).
    exec(app, "BEGIN");
    exec(app, "CREATE TABLE lk_pt_7 (id int, v text)");
    o = simple(app, "ALTER TABLE lk_pt ATTACH PARTITION lk_pt_7 FOR VALUES IN (7)");
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    CHECK_MESSAGE(contains(o.message, "partition_changes"), o.describe());
    exec(app, "ROLLBACK");
    CHECK(snapshot(direct, tables) == before);

    // Committed, the new partition is audited through its table.
    CHECK(simple(app, "CREATE TABLE lk_pt_6 PARTITION OF lk_pt FOR VALUES IN (6)").ok());
    CHECK(simple(app, "INSERT INTO lk_pt_6 VALUES (6, 'x')").sqlstate == "0A000");
    CHECK(simple(app, "INSERT INTO lk_pt VALUES (6, 'audited')").tag == "INSERT 0 1");
    CHECK(rows(direct, "SELECT id, v FROM lk_pt_rev") == std::vector<std::string>{"6|audited"});
}

TEST_CASE("renames that change what a configured name means") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct,
         "CREATE SCHEMA lk_s; CREATE TABLE lk_s.t (id int PRIMARY KEY, v text);"
         "CREATE SCHEMA lk_s2; CREATE TABLE lk_s2.lk_late (id int PRIMARY KEY);"
         "CREATE TABLE lk_other (id int, v text)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(PgrevLimits{}, kAudit);
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO lk_s.t VALUES (1, 'one')").tag == "INSERT 0 1");
    const std::vector<std::string> tables = {"lk_s.t", "lk_s.t_rev"};
    std::string before = snapshot(direct, tables);

    // The attack: rename the schema, change the table under its new name, empty its history,
    // rename it back. The first step is refused.
    check_refused(app, "ALTER SCHEMA lk_s RENAME TO lk_hidden", "0A000", "lk_s.t");
    CHECK(simple(app, "UPDATE lk_hidden.t SET v = 'unaudited'").sqlstate == "42P01");
    check_refused(app, "ALTER SCHEMA lk_s2 RENAME TO lk_s", "0A000", "lk_s.t");
    check_refused(app, "ALTER TABLE lk_other RENAME TO lk_late", "0A000", "lk_late");
    check_refused(app, "ALTER TABLE lk_other RENAME TO lk_late_rev", "42501", "lk_late_rev");
    check_refused(app, "ALTER TABLE lk_s2.lk_late SET SCHEMA public", "0A000", "public.lk_late");
    CHECK(simple(app, "CREATE VIEW lk_v AS SELECT 1 AS id").ok());
    check_refused(app, "ALTER VIEW lk_v RENAME TO lk_late_rev", "42501", "lk_late_rev");
    check_refused(app, "ALTER INDEX lk_s.t_rev RENAME TO old_history", "42501", "lk_s.t_rev");
    CHECK(snapshot(direct, tables) == before);
    CHECK(count(direct, "SELECT count(*) FROM pg_namespace WHERE nspname = 'lk_s'") == 1);
}

TEST_CASE("the history cannot be diverted by triggers, rules, parents or cascades") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct,
         "CREATE TABLE lk_t (id int PRIMARY KEY, v text);"
         "CREATE TYPE feeling_x AS ENUM ('calm', 'cross');"
         "CREATE TABLE lk_m (id int PRIMARY KEY, mood feeling_x)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(PgrevLimits{}, kAudit);
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO lk_t VALUES (1, 'one')").tag == "INSERT 0 1");
    CHECK(simple(app, "INSERT INTO lk_m VALUES (1, 'calm')").tag == "INSERT 0 1");
    const std::vector<std::string> tables = {"lk_t", "lk_t_rev", "lk_m", "lk_m_rev"};
    std::string before = snapshot(direct, tables);

    CHECK(simple(app,
                 "CREATE FUNCTION lk_swallow() RETURNS trigger LANGUAGE plpgsql AS "
                 "$$BEGIN RETURN NULL; END$$")
              .ok());
    check_refused(app,
                  "CREATE TRIGGER lk_swallow BEFORE INSERT ON lk_t_rev FOR EACH ROW "
                  "EXECUTE FUNCTION lk_swallow()",
                  "42501", "public.lk_t_rev");
    check_refused(app, "CREATE RULE lk_r AS ON INSERT TO lk_t_rev DO INSTEAD NOTHING", "42501",
                  "public.lk_t_rev");
    check_refused(app, "CREATE RULE lk_r AS ON UPDATE TO lk_t DO INSTEAD NOTHING", "0A000",
                  "public.lk_t");
    CHECK(simple(app, "CREATE TABLE lk_rev_parent (LIKE lk_t_rev) PARTITION BY LIST (id)").ok());
    check_refused(app, "ALTER TABLE lk_rev_parent ATTACH PARTITION lk_t_rev DEFAULT", "42501",
                  "public.lk_t_rev");
    check_refused(app, "DROP TYPE feeling_x CASCADE", "42501", "public.lk_m_rev");
    check_refused(app, "ALTER TYPE feeling_x RENAME VALUE 'calm' TO 'cross2'", "42501",
                  "public.lk_m_rev");
    CHECK(snapshot(direct, tables) == before);
    // Every change still has its revision.
    CHECK(simple(app, "UPDATE lk_t SET v = 'two' WHERE id = 1").tag == "UPDATE 1");
    CHECK(rows(direct, "SELECT v FROM lk_t_rev ORDER BY rev_created") ==
          std::vector<std::string>{"one", "two"});
}

TEST_CASE("a revision table must be an ordinary table without triggers or rules") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    // First (kDrop's DROP TABLE fails on a view): a view under a history's name stops pgrev.
    DirectCleanup drop_view("DROP VIEW IF EXISTS lk_late_rev CASCADE");
    exec(direct, kDrop);
    exec(direct, "CREATE TABLE lk_t (id int PRIMARY KEY, v text)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(PgrevLimits{}, kAudit);
    PgConn app = connect_via(pgrev->port());

    // Through pgrev a view cannot take a history's name.
    check_refused(app, "CREATE VIEW lk_late_rev AS SELECT 1 AS id", "42501", "lk_late_rev");
    // Made directly, before its table exists, it is not taken for the history: writes to the
    // table are refused, and nothing goes where the view would send it.
    exec(direct,
         "CREATE TABLE lk_junk (rev_id uuid, rev_created float8, rev_isdelete bool, id int);"
         "CREATE VIEW lk_late_rev AS SELECT * FROM lk_junk");
    CHECK(simple(app, "CREATE TABLE lk_late (id int PRIMARY KEY)").ok());
    Outcome o = simple(app, "INSERT INTO lk_late VALUES (1)");
    CHECK_MESSAGE(o.sqlstate == "55000", o.describe());
    CHECK_MESSAGE(contains(o.message, "lk_late_rev is not an ordinary table"), o.describe());
    CHECK(count(direct, "SELECT count(*) FROM lk_junk") == 0);
    CHECK(count(direct, "SELECT count(*) FROM lk_late") == 0);

    // A trigger added directly that swallows revisions stops that table's writes once pgrev
    // reads the catalog again (after the next DDL it sees).
    exec(direct,
         "CREATE FUNCTION lk_swallow() RETURNS trigger LANGUAGE plpgsql AS "
         "$$BEGIN RETURN NULL; END$$;"
         "CREATE TRIGGER lk_swallow BEFORE INSERT ON lk_t_rev FOR EACH ROW "
         "EXECUTE FUNCTION lk_swallow()");
    CHECK(simple(app, "ALTER TABLE lk_t ALTER COLUMN v SET DEFAULT 'x'").ok());
    o = simple(app, "INSERT INTO lk_t VALUES (1, 'one')");
    CHECK_MESSAGE(o.sqlstate == "55000", o.describe());
    CHECK_MESSAGE(contains(o.message, "lk_swallow"), o.describe());
    CHECK(count(direct, "SELECT count(*) FROM lk_t") == 0);
}

TEST_CASE("pgrev refuses to start when a history's name is taken by another kind of relation") {
    if (skip_without_pgrev()) return;
    std::string said = start_refused("lk_view_rev",
                                     "CREATE TABLE lk_t (id int PRIMARY KEY, v text);"
                                     "CREATE TABLE lk_junk (rev_id uuid, rev_created float8, "
                                     "rev_isdelete bool, id int, v text);"
                                     "CREATE VIEW lk_t_rev AS SELECT * FROM lk_junk",
                                     "{tables: [reservation, lk_t]}");
    CHECK_MESSAGE(contains(said, "lk_t_rev is not an ordinary table"), said);
    CHECK_MESSAGE(contains(said, "lk_view_rev"), said);
}

TEST_CASE("views over audited and revision tables are written to only through their tables") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop =
        "DROP VIEW IF EXISTS lk_hv, lk_tv, lk_tv2, lk_new_hv; DROP TABLE IF EXISTS lk_t, lk_t_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE TABLE lk_t (id int PRIMARY KEY, v text);"
         "CREATE VIEW lk_tv AS SELECT * FROM lk_t;"
         "CREATE VIEW lk_tv2 AS SELECT * FROM lk_tv WHERE id > 0");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, lk_t]}");
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO lk_t VALUES (1, 'one')").tag == "INSERT 0 1");
    CHECK(simple(app, "CREATE VIEW lk_hv AS SELECT * FROM lk_t_rev").ok());
    const std::vector<std::string> tables = {"lk_t", "lk_t_rev"};
    std::string before = snapshot(direct, tables);

    check_refused(app, "UPDATE lk_tv SET v = 'unaudited'", "0A000", "public.lk_t");
    check_refused(app, "INSERT INTO lk_tv2 VALUES (2, 'unaudited')", "0A000", "public.lk_t");
    check_refused(app, "DELETE FROM lk_tv2", "0A000", "public.lk_t");
    check_refused(app, "DELETE FROM lk_hv", "0A000", "public.lk_t_rev");
    // Made in the transaction that writes through it.
    exec(app, "BEGIN");
    CHECK(simple(app, "CREATE VIEW lk_new_hv AS SELECT * FROM lk_t_rev").ok());
    Outcome o = simple(app, "DELETE FROM lk_new_hv");
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    exec(app, "ROLLBACK");
    CHECK(snapshot(direct, tables) == before);
    CHECK(simple(app, "SELECT count(*) FROM lk_tv2").rows == std::vector<std::string>{"1"});
}
