// The catalog side of auditing (docs/ARCHITECTURE.md, Catalog and generations): pgrev creates
// <table>_rev for configured tables, at start in every database and later for a table created
// while it runs; it refuses to audit a table it cannot see; and it refuses to start when an
// existing revision table does not fit.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a configured table created while pgrev runs is audited from its first write") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop =
        "DROP TABLE IF EXISTS late_table, late_table_rev, late_tx_table, "
        "late_tx_table_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, "{tables: [reservation, late_table, late_tx_table]}");
    PgConn app = connect_via(pgrev->port());

    // Not there yet: no such table, whoever says so.
    CHECK(simple(app, "INSERT INTO late_table VALUES (1, 'too early')").sqlstate == "42P01");
    CHECK(simple(app, "CREATE TABLE late_table (id int PRIMARY KEY, v text)").tag ==
          "CREATE TABLE");
    CHECK(simple(app, "INSERT INTO late_table VALUES (1, 'first')").tag == "INSERT 0 1");
    CHECK(simple(app, "UPDATE late_table SET v = 'second' WHERE id = 1").tag == "UPDATE 1");
    Outcome deleted = simple(app, "DELETE FROM late_table WHERE id = 1 RETURNING v");
    CHECK(deleted.tag == "DELETE 1");
    CHECK(deleted.rows == std::vector<std::string>{"second"});
    CHECK(rows(direct, "SELECT rev_isdelete, id, v FROM late_table_rev ORDER BY rev_created") ==
          std::vector<std::string>{"f|1|first", "f|1|second", "t|1|NULL"});
    CHECK(rows(direct,
               "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
               "WHERE table_name = 'late_table_rev' ORDER BY ordinal_position") ==
          std::vector<std::string>{"rev_id|uuid|NO", "rev_created|double precision|NO",
                                   "rev_isdelete|boolean|NO", "id|integer|YES", "v|text|YES"});

    // Created in the transaction that writes it: pgrev's catalog connection cannot see a table
    // that is not committed, so it refuses (expected: fail closed, 42P01) - and the
    // transaction fails as after any error.
    exec(app, "BEGIN");
    exec(app, "CREATE TABLE late_tx_table (id int PRIMARY KEY)");
    Outcome refused = simple(app, "INSERT INTO late_tx_table VALUES (1)");
    CHECK_MESSAGE(refused.sqlstate == "42P01", refused.describe());
    CHECK(refused.message.rfind("pgrev: ", 0) == 0);
    CHECK(contains(refused.message, "late_tx_table"));
    CHECK(simple(app, "SELECT 1").sqlstate == "25P02");
    exec(app, "ROLLBACK");
    // Once committed, it is audited.
    exec(app, "CREATE TABLE late_tx_table (id int PRIMARY KEY)");
    CHECK(simple(app, "INSERT INTO late_tx_table VALUES (1)").tag == "INSERT 0 1");
    CHECK(rows(direct, "SELECT rev_isdelete, id FROM late_tx_table_rev") ==
          std::vector<std::string>{"f|1"});
}

TEST_CASE("at start pgrev creates the revision tables in every database") {
    if (skip_without_pgrev()) return;
    PgConn admin = connect_direct("postgres", "postgres");
    const char* drop_db = "DROP DATABASE IF EXISTS second_app WITH (FORCE)";
    DirectCleanup drop_second(drop_db, "postgres");
    DirectCleanup drop_in_app("DROP TABLE IF EXISTS early_table, early_table_rev");
    exec(admin, drop_db);
    exec(admin, "CREATE DATABASE second_app");
    {
        PgConn second = connect_direct("postgres", "second_app");
        exec(second, "CREATE TABLE early_table (id int PRIMARY KEY, v text)");
        PgConn app = connect_direct();
        exec(app, "CREATE TABLE IF NOT EXISTS early_table (id int PRIMARY KEY, v text)");
    }
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, early_table]}");
    for (std::string db : {"app", "second_app"}) {
        CAPTURE(db);
        PgConn c = connect_direct("postgres", db);
        CHECK(count(c, "SELECT count(*) FROM pg_class WHERE relname = 'early_table_rev'") == 1);
    }
    // Written through pgrev in the second database too.
    {
        PgConn c = connect_via(pgrev->port(), "postgres", "second_app");
        CHECK(simple(c, "INSERT INTO early_table VALUES (7, 'second')").tag == "INSERT 0 1");
        PgConn check = connect_direct("postgres", "second_app");
        CHECK(rows(check, "SELECT rev_isdelete, id, v FROM early_table_rev") ==
              std::vector<std::string>{"f|7|second"});
    }
}

TEST_CASE("pgrev refuses to start when an existing revision table lacks a column") {
    if (skip_without_pgrev()) return;
    std::string said = start_refused(
        "mismatch",
        "CREATE TABLE reservation (id serial PRIMARY KEY, name text NOT NULL, date date, "
        "time time, party integer, last_modified timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE reservation_rev (rev_id uuid, rev_created float8, rev_isdelete bool, "
        "id int, name text, date date, time time, last_modified timestamptz)");
    CHECK_MESSAGE(contains(said, "reservation_rev"), said);
    CHECK_MESSAGE(contains(said, "party"), said);
    CHECK_MESSAGE(contains(said, "mismatch"), said);
}

TEST_CASE("a migration that adds a column to an audited table, through pgrev") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS mig_table, mig_table_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, "CREATE TABLE mig_table (id int PRIMARY KEY, v text)");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, mig_table]}");
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO mig_table VALUES (1, 'before')").tag == "INSERT 0 1");
    CHECK(simple(app, "ALTER TABLE mig_table ADD COLUMN note text").tag == "ALTER TABLE");

    // pgrev saw the migration: the history follows the table, and the new column is recorded.
    Outcome after = simple(app, "INSERT INTO mig_table VALUES (2, 'after', 'noted')");
    CHECK_MESSAGE(after.tag == "INSERT 0 1", after.describe());
    CHECK(rows(direct, "SELECT id, v, note FROM mig_table_rev ORDER BY rev_created") ==
          std::vector<std::string>{"1|before|NULL", "2|after|noted"});
}

TEST_CASE("a history that cannot follow its table stops only that table's writes") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS mig_table, mig_table_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE TABLE mig_table (id int PRIMARY KEY, v text);"
         "CREATE TABLE mig_table_rev (rev_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
         "rev_created float8, rev_isdelete bool, id int, v text)");
    // pgrev creates and changes no history here, so a column added later stays missing.
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, "{tables: [reservation, mig_table], create_rev_tables: false}");
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO mig_table VALUES (1, 'before')").tag == "INSERT 0 1");
    CHECK(simple(app, "ALTER TABLE mig_table ADD COLUMN note text").tag == "ALTER TABLE");

    // The migrated table's history lacks the new column: its writes are refused, saying so.
    Outcome after = simple(app, "INSERT INTO mig_table VALUES (2, 'after', 'noted')");
    CHECK_FALSE_MESSAGE(after.ok(), after.describe());
    CHECK_MESSAGE(after.message.rfind("pgrev: ", 0) == 0, after.describe());
    CHECK_MESSAGE(contains(after.message, "mig_table_rev"), after.describe());
    CHECK_MESSAGE(contains(after.message, "note"), after.describe());

    // The other audited tables of the database have nothing to do with it.
    long revs = count(direct, "SELECT count(*) FROM reservation_rev WHERE id = 100001");
    Outcome other = simple(app, "UPDATE reservation SET party = party WHERE id = 100001");
    CHECK_MESSAGE(other.tag == "UPDATE 1", other.describe());
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev WHERE id = 100001") ==
          revs + (other.ok() ? 1 : 0));

    // Once the history has the column (added directly: pgrev refuses ALTER of a history) and
    // pgrev reads the catalog again (after the next DDL it sees), auditing resumes.
    exec(direct, "ALTER TABLE mig_table_rev ADD COLUMN note text");
    CHECK(simple(app, "COMMENT ON TABLE mig_table IS 'migrated'").ok());
    CHECK(simple(app, "ALTER TABLE mig_table ALTER COLUMN v SET DEFAULT 'x'").ok());
    Outcome again = simple(app, "INSERT INTO mig_table VALUES (3, 'again', 'noted')");
    CHECK_MESSAGE(again.tag == "INSERT 0 1", again.describe());
    CHECK(rows(direct, "SELECT id, v, note FROM mig_table_rev ORDER BY rev_created") ==
          std::vector<std::string>{"1|before|NULL", "3|again|noted"});
}

TEST_CASE("pgrev refuses to start when a revision column has another type than its column") {
    if (skip_without_pgrev()) return;
    std::string said = start_refused(
        "mismatch_type",
        "CREATE TABLE reservation (id serial PRIMARY KEY, name text NOT NULL, date date, "
        "time time, party numeric(10,3), last_modified timestamptz NOT NULL DEFAULT now());"
        "CREATE TABLE reservation_rev (rev_id uuid, rev_created float8, rev_isdelete bool, "
        "id int, name text, date date, time time, party integer, last_modified timestamptz)");
    for (const char* part :
         {"mismatch_type", "reservation_rev", "\"party\"", "numeric(10,3)", "integer"}) {
        CHECK_MESSAGE(contains(said, part), part << " in " << said);
    }
}
