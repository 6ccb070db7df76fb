// The history holds what was stored, under the right names and types, and only the audited
// table's: columns renamed crosswise (pgrev's catalog stale), a column's type changed, a
// domain with a DEFAULT or NOT NULL, a user's `=` earlier in search_path. Revisions are
// compared with what a row trigger records for the same statements.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// An AFTER ROW trigger that records every row written to the tables it is put on, as jsonb.
const char* const kTrigger = R"sql(
CREATE TABLE fid_trig (seq bigserial, tab text, row jsonb);
CREATE FUNCTION fid_trig_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fid_trig (tab, row) VALUES (TG_TABLE_NAME, to_jsonb(NEW));
    RETURN NULL;
END $$;
)sql";

// The trigger's rows of `table` and pgrev's revisions of it, each in the order they were made.
std::vector<std::string> trigger_rows(PgConn& c, const std::string& table) {
    return rows(c, "SELECT row FROM fid_trig WHERE tab = '" + table + "' ORDER BY seq");
}
std::vector<std::string> revisions(PgConn& c, const std::string& table) {
    return rows(c, "SELECT to_jsonb(r) - 'rev_id' - 'rev_created' - 'rev_isdelete' FROM " + table +
                       "_rev r ORDER BY rev_created");
}

}  // namespace

TEST_CASE(
    "columns renamed crosswise: revisions are filled by name, also for a prepared "
    "statement from before") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop =
        "DROP TABLE IF EXISTS fid_swap, fid_swap_rev, fid_trig; "
        "DROP FUNCTION IF EXISTS fid_trig_fn()";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, kTrigger);
    exec(direct,
         "CREATE TABLE fid_swap (id int PRIMARY KEY, a text, b text);"
         "CREATE TRIGGER fid_trig AFTER INSERT OR UPDATE ON fid_swap FOR EACH ROW "
         "EXECUTE FUNCTION fid_trig_fn()");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, fid_swap]}");
    PgConn app = connect_via(pgrev->port());

    CHECK(exec(app, "INSERT INTO fid_swap VALUES (1, 'one-a', 'one-b'), (2, 'two-a', 'two-b')") ==
          "INSERT 0 2");
    Outcome prepared = prepare_now(app, "up", "UPDATE fid_swap SET a = a || '+' WHERE id = $1");
    REQUIRE_MESSAGE(prepared.ok(), prepared.describe());
    exec(app, "PREPARE up_sql AS UPDATE fid_swap SET b = b || '*' WHERE id = 2");

    // In one transaction: pgrev's catalog connection does not see it, its column order is
    // stale (a, b) while the table's is (b, a) by position.
    exec(app, "BEGIN");
    exec(app, "ALTER TABLE fid_swap RENAME COLUMN a TO tmp");
    exec(app, "ALTER TABLE fid_swap RENAME COLUMN b TO a");
    exec(app, "ALTER TABLE fid_swap RENAME COLUMN tmp TO b");
    CHECK(exec(app, "UPDATE fid_swap SET a = 'swapped' WHERE id = 1") == "UPDATE 1");
    Outcome in_tx = execute_now(app, "up", {"2"});
    CHECK_MESSAGE(in_tx.tag == "UPDATE 1", in_tx.describe());
    exec(app, "COMMIT");
    // The statements prepared before the swap, after it (the server analyses them again).
    Outcome after = execute_now(app, "up", {"1"});
    CHECK_MESSAGE(after.tag == "UPDATE 1", after.describe());
    CHECK(exec(app, "EXECUTE up_sql") == "UPDATE 1");
    CHECK(exec(app, "UPDATE fid_swap SET b = 'later' WHERE id = 2") == "UPDATE 1");

    std::vector<std::string> expected = trigger_rows(direct, "fid_swap");
    CHECK(expected.size() == 7);
    CHECK(revisions(direct, "fid_swap") == expected);
    // The latest revision of each row is the row as stored.
    CHECK(rows(direct,
               "SELECT DISTINCT ON (id) a, b FROM fid_swap_rev ORDER BY id, rev_created DESC") ==
          rows(direct, "SELECT a, b FROM fid_swap ORDER BY id"));

    // A column added behind pgrev's back: the write fails rather than record a row without it.
    exec(direct, "ALTER TABLE fid_swap ADD COLUMN c text DEFAULT 'new'");
    std::string before = contents(direct, "fid_swap");
    Outcome behind = simple(app, "UPDATE fid_swap SET a = 'unrecorded' WHERE id = 1");
    CHECK_FALSE_MESSAGE(behind.ok(), behind.describe());
    CHECK(contents(direct, "fid_swap") == before);
    CHECK(count(direct, "SELECT count(*) FROM fid_swap_rev") == 7);
}

TEST_CASE("a column's type changed through pgrev: the history column follows it") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS fid_num, fid_num_rev, fid_txt, fid_txt_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE TABLE fid_num (id int PRIMARY KEY, v int);"
         "CREATE TABLE fid_txt (id int PRIMARY KEY, v text)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, "{tables: [reservation, fid_num, fid_txt], allow: [column_rewrites]}");
    PgConn app = connect_via(pgrev->port());

    CHECK(exec(app, "INSERT INTO fid_num VALUES (1, 4)") == "INSERT 0 1");
    CHECK(exec(app, "ALTER TABLE fid_num ALTER COLUMN v TYPE numeric(10,3)") == "ALTER TABLE");
    CHECK(exec(app, "INSERT INTO fid_num VALUES (2, 2.5)") == "INSERT 0 1");
    CHECK(rows(direct, "SELECT v FROM fid_num WHERE id = 2") == std::vector<std::string>{"2.500"});
    CHECK(rows(direct, "SELECT id, v FROM fid_num_rev ORDER BY rev_created") ==
          std::vector<std::string>{"1|4.000", "2|2.500"});
    CHECK(rows(direct,
               "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
               "'fid_num_rev'::regclass AND attname = 'v'") ==
          std::vector<std::string>{"numeric(10,3)"});

    // History that cannot be converted: the table's writes are refused, saying what to do.
    CHECK(exec(app, "INSERT INTO fid_txt VALUES (1, 'not a number')") == "INSERT 0 1");
    CHECK(exec(app, "UPDATE fid_txt SET v = '5'") == "UPDATE 1");
    CHECK(exec(app, "ALTER TABLE fid_txt ALTER COLUMN v TYPE int USING v::int") == "ALTER TABLE");
    Outcome refused = simple(app, "INSERT INTO fid_txt VALUES (2, 6)");
    CHECK_MESSAGE(refused.sqlstate == "55000", refused.describe());
    for (const char* part : {"pgrev: ", "fid_txt_rev", "\"v\"", "integer", "text", "ALTER TABLE"}) {
        CHECK_MESSAGE(contains(refused.message, part), part << " in " << refused.describe());
    }
    CHECK(count(direct, "SELECT count(*) FROM fid_txt") == 1);
}

TEST_CASE("a column's type changed where pgrev may not change the history") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS fid_fixed, fid_fixed_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE TABLE fid_fixed (id int PRIMARY KEY, v int);"
         "CREATE TABLE fid_fixed_rev (rev_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
         "rev_created float8, rev_isdelete bool, id int, v int)");
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, "{tables: [reservation, fid_fixed], create_rev_tables: false}");
    PgConn app = connect_via(pgrev->port());
    CHECK(exec(app, "INSERT INTO fid_fixed VALUES (1, 3)") == "INSERT 0 1");
    CHECK(exec(app, "ALTER TABLE fid_fixed ALTER COLUMN v TYPE numeric(10,3)") == "ALTER TABLE");
    Outcome refused = simple(app, "INSERT INTO fid_fixed VALUES (2, 2.5)");
    CHECK_MESSAGE(refused.sqlstate == "55000", refused.describe());
    for (const char* part : {"pgrev: ", "fid_fixed_rev", "\"v\"", "numeric(10,3)", "integer"}) {
        CHECK_MESSAGE(contains(refused.message, part), part << " in " << refused.describe());
    }
    CHECK(count(direct, "SELECT count(*) FROM fid_fixed") == 1);
}

TEST_CASE("domain columns: the history gets the base type, a DELETE revision holds NULL") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop =
        "DROP TABLE IF EXISTS fid_dom, fid_dom_rev, fid_dom2, fid_dom2_rev;"
        "DROP DOMAIN IF EXISTS fid_note, fid_required";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE DOMAIN fid_note AS varchar(20) DEFAULT 'domain default';"
         "CREATE DOMAIN fid_required AS int NOT NULL;"
         "CREATE TABLE fid_dom (id int PRIMARY KEY, note fid_note);"
         // A history made before, with the domain type: accepted as it is.
         "CREATE TABLE fid_dom2 (id int PRIMARY KEY, note fid_note);"
         "CREATE TABLE fid_dom2_rev (rev_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
         "rev_created float8, rev_isdelete bool, id int, note fid_note)");
    const char* audit = "{tables: [reservation, fid_dom, fid_dom2]}";
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(PgrevLimits{}, audit);
    PgConn app = connect_via(pgrev->port());
    CHECK(rows(direct,
               "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = "
               "'fid_dom_rev'::regclass AND attname = 'note'") ==
          std::vector<std::string>{"character varying(20)"});

    for (std::string table : {"fid_dom", "fid_dom2"}) {
        CAPTURE(table);
        CHECK(exec(app, "INSERT INTO " + table + " VALUES (1, 'kept')") == "INSERT 0 1");
        CHECK(exec(app, "DELETE FROM " + table + " WHERE id = 1") == "DELETE 1");
        CHECK(rows(direct,
                   "SELECT rev_isdelete, id, note FROM " + table + "_rev ORDER BY rev_created") ==
              std::vector<std::string>{"f|1|kept", "t|1|NULL"});
    }

    // A NOT NULL domain column without a default, added to the (now empty) table: its history
    // has rows, and takes the column as the base type.
    CHECK(exec(app, "ALTER TABLE fid_dom ADD COLUMN req fid_required") == "ALTER TABLE");
    CHECK(exec(app, "INSERT INTO fid_dom VALUES (2, 'two', 7)") == "INSERT 0 1");
    CHECK(rows(direct, "SELECT id, req FROM fid_dom_rev ORDER BY rev_created") ==
          std::vector<std::string>{"1|NULL", "1|NULL", "2|7"});
    // And a pgrev started now accepts the history as it is.
    std::unique_ptr<PgrevProcess> again = TestEnv::get().start_pgrev(PgrevLimits{}, audit);
    CHECK(again->running());
}

TEST_CASE("the search_path guard cannot be answered by a user's = operator") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    const char* drop = "DROP SCHEMA IF EXISTS evil CASCADE";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE SCHEMA evil;"
         "CREATE TABLE evil.reservation (id int, name text, date date, time time, party int, "
         "last_modified timestamptz);"
         "CREATE FUNCTION evil.yes(regclass, regclass) RETURNS boolean LANGUAGE sql AS "
         "'SELECT true';"
         "CREATE OPERATOR evil.= (LEFTARG = regclass, RIGHTARG = regclass, "
         "FUNCTION = evil.yes)");
    PgConn app = connect_proxied();
    long revs = count(direct, "SELECT count(*) FROM reservation_rev");
    exec(app, "SET search_path = evil, public");
    for (const char* sql : {"INSERT INTO reservation (id, name, party) VALUES (300001, 'evil', 1)",
                            "UPDATE reservation SET party = 2", "DELETE FROM reservation"}) {
        CAPTURE(sql);
        Outcome o = simple(app, sql);
        CHECK_FALSE_MESSAGE(o.ok(), o.describe());
        CHECK_MESSAGE(contains(o.message, "search_path finds another table named reservation"),
                      o.describe());
        CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
    }
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
    CHECK(count(direct, "SELECT count(*) FROM evil.reservation") == 0);
    // Named with its schema, the audited table is written and audited as usual.
    exec(app, "BEGIN");
    CHECK(exec(app, "UPDATE public.reservation SET party = party WHERE id = 100001") == "UPDATE 1");
    CHECK(count(app, "SELECT count(*) FROM public.reservation_rev") == revs + 1);
    exec(app, "ROLLBACK");
}
