// Code the server runs on a client's behalf that writes an audited table without the
// statement naming it (issue 10, section 1, the catalog side): calls of routines whose source
// names an audited table, writes to tables whose triggers or rules do, TRUNCATE ... CASCADE
// through an audited table's foreign key. pgrev reads them from pg_proc, pg_trigger and
// pg_rewrite at start and after DDL through it; each refusal leaves the table unchanged and
// the session usable, and the switches let them run. Foreign keys whose actions change an
// audited table are logged at start.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

// Refused by pgrev with 0A000, naming each of `names`; the session is usable after it.
void check_refused(PgConn& app, const std::string& sql, const std::vector<std::string>& names) {
    CAPTURE(sql);
    Outcome o = simple(app, sql);
    CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    CHECK_MESSAGE(o.message.rfind("pgrev: ", 0) == 0, o.describe());
    for (const auto& n : names)
        CHECK_MESSAGE(contains(o.message, n), o.describe());
    CHECK(PQtransactionStatus(app.get()) == PQTRANS_IDLE);
    CHECK(simple(app, "SELECT 1").rows == std::vector<std::string>{"1"});
}

const char* const kDrop =
    "DROP VIEW IF EXISTS rt_view_of_view, rt_view;"
    "DROP TABLE IF EXISTS rt_t, rt_t_rev, rt_ts, rt_other, rt_pt, rt_ruled, rt_defaulted, "
    "rt_booking, "
    "rt_booking_rev, "
    "rt_room CASCADE;"
    "DROP FUNCTION IF EXISTS rt_plpgsql(), rt_sql(), rt_atomic(), rt_dynamic(), rt_wrapper(), "
    "rt_harmless(), rt_commented(), rt_trig_fn(), rt_late(), rt_direct_late(), rt_quoted();"
    "DROP PROCEDURE IF EXISTS rt_proc()";

// Made directly on PostgreSQL, before pgrev starts.
const char* const kSetup = R"sql(
CREATE TABLE rt_t (id int PRIMARY KEY, v text);
CREATE TABLE rt_ts (id int PRIMARY KEY, v text);
INSERT INTO rt_t VALUES (1, 'a'), (2, 'b');
CREATE FUNCTION rt_plpgsql() RETURNS int LANGUAGE plpgsql AS $$
BEGIN UPDATE rt_t SET v = 'plpgsql'; RETURN 1; END $$;
CREATE FUNCTION rt_sql() RETURNS int LANGUAGE sql AS $$ UPDATE rt_t SET v = 'sql' RETURNING 1 $$;
CREATE FUNCTION rt_atomic() RETURNS void LANGUAGE sql
BEGIN ATOMIC UPDATE public.rt_t SET v = 'atomic'; END;
CREATE PROCEDURE rt_proc() LANGUAGE plpgsql AS $$ BEGIN UPDATE rt_t SET v = 'proc'; END $$;
CREATE FUNCTION rt_dynamic() RETURNS void LANGUAGE plpgsql AS $$
BEGIN EXECUTE 'UPDATE rt_t SET v = ''dynamic'''; END $$;
CREATE FUNCTION rt_quoted() RETURNS void LANGUAGE sql AS $$ DELETE FROM U&"rt\005Ft" WHERE id = 2 $$;
CREATE FUNCTION rt_wrapper() RETURNS int LANGUAGE sql AS $$ SELECT rt_sql() $$;
CREATE FUNCTION rt_harmless() RETURNS int LANGUAGE sql AS $$
  -- reads rt_ts only
  SELECT count(*)::int FROM rt_ts $$;
CREATE FUNCTION rt_commented() RETURNS int LANGUAGE sql AS $$
  -- reads rt_ts only, not rt_t
  SELECT count(*)::int FROM rt_ts $$;
CREATE FUNCTION rt_trig_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE rt_t SET v = 'trigger'; RETURN NEW; END $$;
CREATE TABLE rt_other (id int);
CREATE TRIGGER rt_trig AFTER INSERT ON rt_other FOR EACH ROW EXECUTE FUNCTION rt_trig_fn();
CREATE TABLE rt_pt (id int) PARTITION BY RANGE (id);
CREATE TABLE rt_pt1 PARTITION OF rt_pt FOR VALUES FROM (0) TO (100);
CREATE TRIGGER rt_part_trig AFTER INSERT ON rt_pt1 FOR EACH ROW EXECUTE FUNCTION rt_trig_fn();
CREATE TABLE rt_ruled (id int);
CREATE RULE rt_rule AS ON INSERT TO rt_ruled DO ALSO UPDATE rt_t SET v = 'rule';
CREATE VIEW rt_view AS SELECT rt_sql() AS n;
CREATE VIEW rt_view_of_view AS SELECT * FROM rt_view;
CREATE TABLE rt_defaulted (id int, n int DEFAULT rt_sql());
CREATE TABLE rt_room (id int PRIMARY KEY);
CREATE TABLE rt_booking (id int PRIMARY KEY,
                         room int CONSTRAINT rt_booking_room_fk REFERENCES rt_room ON DELETE CASCADE);
INSERT INTO rt_room VALUES (1);
INSERT INTO rt_booking VALUES (1, 1);
)sql";

const char* const kTables = "tables: [rt_t, rt_booking]";

}  // namespace

TEST_CASE("calls of routines whose source names an audited table are refused") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct, kSetup);
    // CREATE FUNCTION naming an audited table is refused by default (routine_definitions):
    // allowed here, to see the call refused.
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, std::string("{") + kTables + ", allow: [routine_definitions]}");
    PgConn app = connect_via(pgrev->port());
    const std::string before = contents(direct, "rt_t");

    SUBCASE("in a SELECT list, a WHERE, FROM, a CTE, CALL; qualified or not; at any depth") {
        check_refused(app, "SELECT rt_plpgsql()", {"public.rt_plpgsql", "rt_t", "routine_calls"});
        check_refused(app, "SELECT 1 WHERE rt_sql() = 1", {"public.rt_sql", "rt_t"});
        check_refused(app, "SELECT * FROM public.rt_atomic()", {"public.rt_atomic"});
        check_refused(app, "CALL rt_proc()", {"public.rt_proc"});
        check_refused(app, "WITH x AS (SELECT RT_SQL() AS n) SELECT n FROM x", {"rt_sql"});
        check_refused(app, "SELECT (SELECT rt_dynamic())", {"public.rt_dynamic"});
        check_refused(app, "SELECT rt_quoted()", {"public.rt_quoted"});
        check_refused(app, "EXPLAIN ANALYZE SELECT rt_sql()", {"rt_sql"});
        // Through another routine: the wrapper's source names rt_sql only.
        check_refused(app, "SELECT rt_wrapper()", {"public.rt_wrapper", "public.rt_sql"});
        CHECK(exec(app, "BEGIN") == "BEGIN");
        Outcome in_tx = simple(app, "VALUES (rt_sql())");
        CHECK(in_tx.sqlstate == "0A000");
        CHECK(exec(app, "ROLLBACK") == "ROLLBACK");
        CHECK(contents(direct, "rt_t") == before);
    }
    SUBCASE("a routine that names another table runs; one naming the table in a comment does not") {
        CHECK(simple(app, "SELECT rt_harmless()").rows == std::vector<std::string>{"0"});
        // Its source is read as a DO block's body through pgrev would be: comments count.
        check_refused(app, "SELECT rt_commented()",
                      {"public.rt_commented", "rt_t", "routine_calls"});
    }
    SUBCASE("writes to a table whose trigger or rule writes the audited table") {
        check_refused(app, "INSERT INTO rt_other VALUES (1)",
                      {"rt_trig", "public.rt_trig_fn", "rt_t", "triggers"});
        // Through the partitioned parent of a table with such a trigger.
        check_refused(app, "INSERT INTO rt_pt VALUES (1)",
                      {"rt_part_trig of public.rt_pt1", "public.rt_trig_fn"});
        check_refused(app, "INSERT INTO rt_ruled VALUES (1)", {"rt_rule", "rt_t", "rules"});
        check_refused(app,
                      "CREATE TRIGGER rt_trig2 AFTER INSERT ON rt_ts FOR EACH ROW "
                      "EXECUTE FUNCTION rt_trig_fn()",
                      {"public.rt_trig_fn", "triggers"});
        // Disabled through pgrev: writes go on; enabled again: refused again.
        CHECK(exec(app, "ALTER TABLE rt_other DISABLE TRIGGER rt_trig") == "ALTER TABLE");
        CHECK(exec(app, "INSERT INTO rt_other VALUES (2)") == "INSERT 0 1");
        CHECK(exec(app, "ALTER TABLE rt_other ENABLE TRIGGER rt_trig") == "ALTER TABLE");
        check_refused(app, "INSERT INTO rt_other VALUES (3)", {"rt_trig"});
        CHECK(count(direct, "SELECT count(*) FROM rt_other") == 1);
        exec(direct, "DELETE FROM rt_other");
        CHECK(count(direct, "SELECT count(*) FROM rt_other") == 0);
        CHECK(count(direct, "SELECT count(*) FROM rt_pt") == 0);
        CHECK(count(direct, "SELECT count(*) FROM pg_trigger WHERE tgname = 'rt_trig2'") == 0);
        CHECK(contents(direct, "rt_t") == before);
    }
    SUBCASE("reads of a view and writes to a table whose definition calls such a routine") {
        check_refused(app, "SELECT * FROM rt_view", {"public.rt_view", "public.rt_sql"});
        check_refused(app, "SELECT * FROM rt_view_of_view", {"public.rt_view_of_view"});
        check_refused(app, "INSERT INTO rt_defaulted (id) VALUES (1)",
                      {"public.rt_defaulted", "default of column n", "public.rt_sql"});
        CHECK(simple(app, "SELECT count(*) FROM rt_defaulted").rows ==
              std::vector<std::string>{"0"});
        CHECK(contents(direct, "rt_t") == before);
    }
    SUBCASE("TRUNCATE ... CASCADE of a table an audited table references") {
        check_refused(app, "TRUNCATE rt_room CASCADE", {"rt_room", "public.rt_booking"});
        CHECK(count(direct, "SELECT count(*) FROM rt_booking") == 1);
    }
    SUBCASE("routines made after start are read after DDL through pgrev") {
        CHECK(exec(app,
                   "CREATE FUNCTION rt_late() RETURNS void LANGUAGE sql AS "
                   "$$ UPDATE rt_t SET v = 'late' $$") == "CREATE FUNCTION");
        check_refused(app, "SELECT rt_late()", {"public.rt_late"});
        // Made directly: seen once DDL through pgrev has the catalog read again.
        exec(direct,
             "CREATE FUNCTION rt_direct_late() RETURNS void LANGUAGE plpgsql AS "
             "$$ BEGIN DELETE FROM rt_t; END $$");
        CHECK(exec(app, "DROP FUNCTION rt_late()") == "DROP FUNCTION");
        check_refused(app, "SELECT rt_direct_late()", {"public.rt_direct_late"});
        // Replaced by one that no longer names the table, it runs.
        CHECK(exec(app,
                   "CREATE OR REPLACE FUNCTION rt_direct_late() RETURNS void LANGUAGE "
                   "sql AS $$ SELECT $$") == "CREATE FUNCTION");
        CHECK(exec(app, "SELECT rt_direct_late()") == "SELECT 1");
        CHECK(contents(direct, "rt_t") == before);
        // Reloads do not repeat the warnings of foreign keys already logged.
        CHECK(occurrences(pgrev->log_text(), "foreign key rt_booking_room_fk") == 1);
    }
    SUBCASE("statements that name no flagged routine or table are still forwarded unparsed") {
        // With standard_conforming_strings off pgrev refuses a backslash in a literal of a
        // statement it analyses, and the server takes it: which one answers shows whether
        // the text was parsed.
        CHECK(exec(app, "SET standard_conforming_strings = off") == "SET");
        CHECK(simple(app, "SELECT 'a\\\\b' AS plain").ok());
        Outcome analysed = simple(app, "SELECT 'a\\\\b' AS rt_wrapper");
        CHECK(analysed.sqlstate == "0A000");
        CHECK(contains(analysed.message, "standard_conforming_strings"));
        CHECK(exec(app, "SET standard_conforming_strings = on") == "SET");
    }
}

TEST_CASE("foreign keys that change an audited table are logged at start") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct, kSetup);
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, std::string("{") + kTables + "}");
    std::string log = pgrev->log_text();
    CHECK_MESSAGE(contains(log,
                           "foreign key rt_booking_room_fk of public.rt_booking: ON DELETE "
                           "CASCADE from public.rt_room changes public.rt_booking without "
                           "revisions (pgrev verify finds such changes)"),
                  log);
    CHECK(occurrences(log, "foreign key rt_booking_room_fk") == 1);  // ON UPDATE is NO ACTION
}

TEST_CASE("trusted_routines and audit.allow let flagged code run") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct, kSetup);
    SUBCASE("trusted routines") {
        std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
            PgrevLimits{},
            std::string("{") + kTables + ", trusted_routines: [public.rt_sql, rt_trig_fn]}");
        PgConn app = connect_via(pgrev->port());
        CHECK(simple(app, "SELECT rt_sql()").rows == std::vector<std::string>{"1"});
        CHECK(exec(app, "INSERT INTO rt_other VALUES (1)") == "INSERT 0 1");
        check_refused(app, "SELECT rt_plpgsql()", {"public.rt_plpgsql"});
        // Trusting rt_sql does not vouch for what calls it.
        check_refused(app, "SELECT rt_wrapper()", {"public.rt_wrapper"});
        CHECK(rows(direct, "SELECT DISTINCT v FROM rt_t") == std::vector<std::string>{"trigger"});
    }
    SUBCASE("routine_calls, triggers, rules, truncate") {
        std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
            PgrevLimits{},
            std::string("{") + kTables + ", allow: [routine_calls, triggers, rules, truncate]}");
        PgConn app = connect_via(pgrev->port());
        CHECK(simple(app, "SELECT rt_plpgsql()").rows == std::vector<std::string>{"1"});
        CHECK(exec(app, "CALL rt_proc()") == "CALL");
        CHECK(exec(app, "INSERT INTO rt_ruled VALUES (1)") == "INSERT 0 1");
        CHECK(rows(direct, "SELECT DISTINCT v FROM rt_t") == std::vector<std::string>{"rule"});
        CHECK(exec(app, "INSERT INTO rt_other VALUES (1)") == "INSERT 0 1");
        CHECK(exec(app, "TRUNCATE rt_room CASCADE") == "TRUNCATE TABLE");
        CHECK(count(direct, "SELECT count(*) FROM rt_booking") == 0);
    }
}
