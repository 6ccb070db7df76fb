// Which statements pgrev audits is a question of names: every way to spell the audited table
// is audited (case folding, quoting, schema, U& escapes, comments), and nothing
// that merely looks like it is - other tables with similar names, the same name in another
// schema, the name inside a string or a comment, reads.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

const char* const kLookalikes = R"sql(
CREATE TABLE IF NOT EXISTS reservations (id int PRIMARY KEY, name text, party int);
CREATE TABLE IF NOT EXISTS my_reservation (id int PRIMARY KEY, name text, party int);
CREATE SCHEMA IF NOT EXISTS other;
CREATE TABLE IF NOT EXISTS other.reservation (id int PRIMARY KEY, name text, party int);
GRANT USAGE ON SCHEMA other TO PUBLIC;
)sql";

const char* const kDropLookalikes = R"sql(
DROP TABLE IF EXISTS reservations, my_reservation, reservations_rev, my_reservation_rev;
DROP SCHEMA IF EXISTS other CASCADE;
)sql";

std::vector<std::string> writes_to(const std::string& table) {
    return {"INSERT INTO " + table + " VALUES (1, 'a', 2), (2, 'b', 3) RETURNING *",
            "UPDATE " + table + " SET party = party + 1 RETURNING id, party",
            "DELETE FROM " + table + " WHERE id = 1 RETURNING *",
            "INSERT INTO " + table + " AS t VALUES (2, 'c', 1) ON CONFLICT (id) DO UPDATE SET " +
                "name = EXCLUDED.name",
            "SELECT * FROM " + table + " ORDER BY id",
            "DELETE FROM " + table};
}

}  // namespace

TEST_CASE("statements that do not write the audited table are not audited") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDropLookalikes);
    exec(direct, kLookalikes);

    std::vector<std::string> steps;
    for (const char* table : {"reservations", "my_reservation", "other.reservation",
                              "\"other\".\"reservation\"", "OTHER.RESERVATION"}) {
        for (const std::string& sql : writes_to(table))
            steps.push_back(sql);
    }
    for (const char* sql : {
             "SELECT 'UPDATE reservation SET party = 0' AS literal",
             "SELECT $$DELETE FROM reservation$$ AS dollar_quoted, E'INSERT INTO reservation "
             "VALUES (1)' AS escaped",
             "/* UPDATE reservation SET party = 0 */ SELECT 1 AS after_comment",
             "-- UPDATE reservation SET party = 0\nSELECT 2 AS after_line_comment",
             "SELECT * FROM reservation WHERE id BETWEEN 100001 AND 100003 ORDER BY id",
             "SELECT r.id, s.name FROM reservation r JOIN dinner_slot s USING (id) ORDER BY 1",
             "SELECT id FROM reservation WHERE id = 100001 FOR UPDATE",
             "WITH r AS (SELECT * FROM reservation) SELECT count(*) FROM r WHERE id > 100000",
             "INSERT INTO dinner_slot SELECT id + 50, name, party FROM reservation WHERE id "
             "BETWEEN 100001 AND 100003 RETURNING *",
             "UPDATE dinner_slot SET party = r.party FROM reservation r WHERE r.id = "
             "dinner_slot.id RETURNING dinner_slot.*",
             "DELETE FROM dinner_slot USING reservation r WHERE r.id = dinner_slot.id - 50",
             "CREATE TEMP TABLE booking (reservation int, reservation_rev int)",
             "INSERT INTO booking (reservation) VALUES (1)",
             "UPDATE booking SET reservation = 2, reservation_rev = 3 RETURNING reservation",
             "DELETE FROM booking WHERE reservation = 2",
         }) {
        steps.emplace_back(sql);
    }
    expect_audited_transparent(queries("look-alikes, literals, comments and reads", steps, 0));

    // Committed this time: still no history, and no history table for the look-alikes.
    PgConn app = connect_proxied();
    long revs = count(direct, "SELECT count(*) FROM reservation_rev");
    for (const char* table : {"reservations", "my_reservation", "other.reservation"}) {
        for (const std::string& sql : writes_to(table))
            CHECK_MESSAGE(simple(app, sql).ok(), sql);
    }
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
    CHECK(count(direct,
                "SELECT count(*) FROM pg_class WHERE relname LIKE '%reservation%rev' AND "
                "relname <> 'reservation_rev'") == 0);
}

// pgrev does not follow search_path (README, "Good to know"): an unqualified name is the
// audited table. When search_path finds a same-named table of another schema first, the
// statement fails rather than file that table's rows as the audited table's history.
TEST_CASE("a same-named table found through search_path never becomes the audited history") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDropLookalikes);
    DirectCleanup drop_shadow("DROP SCHEMA IF EXISTS shadow CASCADE");
    exec(direct, kLookalikes);
    exec(direct,
         "DROP SCHEMA IF EXISTS shadow CASCADE; CREATE SCHEMA shadow; "
         "CREATE TABLE shadow.reservation (LIKE public.reservation INCLUDING DEFAULTS)");
    PgConn app = connect_proxied();
    long revs = count(direct, "SELECT count(*) FROM reservation_rev");
    for (const std::string schema : {"other", "shadow"}) {
        CAPTURE(schema);
        CHECK(simple(app, "BEGIN").ok());
        CHECK(simple(app, "SET LOCAL search_path = " + schema + ", public").ok());
        Outcome o = simple(app, "INSERT INTO reservation (id, name, party) VALUES (1, 'a', 2)");
        CHECK_FALSE_MESSAGE(o.ok(), o.describe());
        if (schema == "shadow") {
            // Same columns: only pgrev's guard stops it, and says why.
            // A refusal, as the README lists: pgrev's SQLSTATE and message, not the int4 cast
            // the guard fails with.
            CHECK_MESSAGE(o.sqlstate == "0A000", o.describe());
            CHECK_MESSAGE(o.message ==
                              "pgrev: search_path finds another table named reservation first; "
                              "name the audited one with its schema",
                          o.describe());
        }
        CHECK(simple(app, "ROLLBACK").ok());
    }
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
    CHECK(count(direct, "SELECT count(*) FROM shadow.reservation") == 0);
    // Named with its schema, the look-alike is an ordinary table: written, with no history.
    CHECK(simple(app, "INSERT INTO shadow.reservation (id, name, party) VALUES (1, 'a', 2)").ok());
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
}

TEST_CASE("every spelling of the audited table's name is audited") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    DirectCleanup cleanup("DELETE FROM reservation WHERE id BETWEEN 300001 AND 300999");
    const std::vector<std::string> spellings = {
        "RESERVATION",
        "Reservation",
        "\"reservation\"",
        "public.reservation",
        "\"public\".\"reservation\"",
        "PUBLIC . \"reservation\"",
        "U&\"\\0072eservation\"",
        "U&\"!0072eservation\" UESCAPE '!'",
        "public.U&\"\\0072\\0065servation\"",
        "/* before */ reservation /* after */",
        "-- a line comment\n\treservation",
        "/* outer /* nested */ still outer */reservation",
        "reservation AS r",
    };
    int id = 300001;
    for (const std::string& name : spellings) {
        CAPTURE(name);
        std::string key = std::to_string(id++);
        CHECK(simple(app, "INSERT /* c */ INTO " + name + " (id, name, party) VALUES (" + key +
                              ", 'spelled', 1)")
                  .tag == "INSERT 0 1");
        CHECK(simple(app, "UPDATE " + name + " SET party = 2 WHERE id = " + key).tag == "UPDATE 1");
        CHECK(simple(app, "DELETE FROM\n" + name + " WHERE id = " + key).tag == "DELETE 1");
        CHECK(rows(direct, "SELECT rev_isdelete, id, name, party FROM reservation_rev WHERE id = " +
                               key + " ORDER BY rev_created") ==
              std::vector<std::string>{"f|" + key + "|spelled|1", "f|" + key + "|spelled|2",
                                       "t|" + key + "|NULL|NULL"});
    }
}
