// Texts of one shape (the same statement with other literal values or comment contents) are
// planned once and filled in afterwards (audit/plan_template.h). What the client sees must be
// what PostgreSQL answers, for every text of the shape: rows, tags, errors and their positions;
// and each change has its revision. Each story runs on one session, so its texts meet the plan
// cache of one I/O thread: the first text of a shape is parsed, the later ones are filled in.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

TEST_CASE("texts of one shape with other literals and comments give what PostgreSQL gives") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("UPDATE with other values and trace ids",
                {"UPDATE reservation SET party = 2 WHERE id = 100001 /* traceparent='00-aa-01' */",
                 "UPDATE reservation SET party = 3 WHERE id = 100002 /* traceparent='00-"
                 "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */",
                 "UPDATE reservation SET party = 44 WHERE id = 100003 /* traceparent='x' */",
                 "UPDATE reservation SET party = 5 WHERE id = 100009 /* no such row */",
                 "SELECT id, party FROM reservation WHERE id >= 100001 ORDER BY id"},
                3),
        queries("INSERT ... RETURNING and DELETE ... RETURNING with other values",
                {"INSERT INTO reservation (id, name, party) VALUES (100020, 'Ann', 2) RETURNING "
                 "id, 'tag-1' AS t, party * 10",
                 "INSERT INTO reservation (id, name, party) VALUES (100021, 'Bartholomew', 12) "
                 "RETURNING id, 'tag-22' AS t, party * 100",
                 "INSERT INTO reservation (id, name, party) VALUES (100022, E'O\\'Hara', 1) "
                 "RETURNING id, E'\\t' AS t, party * 1",
                 "DELETE FROM reservation WHERE id = 100020 RETURNING name -- request 1",
                 "DELETE FROM reservation WHERE id = 100021 RETURNING name -- request 22"},
                5),
        queries("a Rails-like comment in front, quoted names",
                {"/*action='index',controller='a'*/ UPDATE \"reservation\" SET \"name\" = 'x' "
                 "WHERE \"reservation\".\"id\" = 100001",
                 "/*action='show',controller='bookings'*/ UPDATE \"reservation\" SET \"name\" = "
                 "'yy' WHERE \"reservation\".\"id\" = 100002"},
                2),
        // The error's position is in the client's text: after a literal of another length
        // it moves, and must move through pgrev the same.
        queries("errors at positions that move with the literals before them",
                {"SAVEPOINT s", "UPDATE reservation SET name = 'a', party = 'x' WHERE id = 100001",
                 "ROLLBACK TO SAVEPOINT s",
                 "UPDATE reservation SET name = 'abcdefgh', party = 'xyz' WHERE id = 100002",
                 "ROLLBACK TO SAVEPOINT s",
                 "UPDATE reservation SET name = '', party = '' WHERE id = 100003",
                 "ROLLBACK TO SAVEPOINT s",
                 "UPDATE reservation SET name = 'ok', party = '7' WHERE id = 100003"},
                1),
    });
}

TEST_CASE("a shape seen before a migration is planned again after it") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS shape_mig, shape_mig_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, "CREATE TABLE shape_mig (id int PRIMARY KEY, v text)");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, shape_mig]}");
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO shape_mig VALUES (1, 'a')").tag == "INSERT 0 1");
    CHECK(simple(app, "INSERT INTO shape_mig VALUES (2, 'bb')").tag == "INSERT 0 1");
    CHECK(simple(app, "ALTER TABLE shape_mig ADD COLUMN note text DEFAULT 'n'").tag ==
          "ALTER TABLE");
    // The same shape again: its plan names the columns pgrev knew, so it must be made anew.
    Outcome after = simple(app, "INSERT INTO shape_mig VALUES (3, 'ccc')");
    CHECK_MESSAGE(after.tag == "INSERT 0 1", after.describe());
    after = simple(app, "INSERT INTO shape_mig VALUES (4, 'dddd')");
    CHECK_MESSAGE(after.tag == "INSERT 0 1", after.describe());
    CHECK(rows(direct, "SELECT id, v, note FROM shape_mig_rev ORDER BY id") ==
          std::vector<std::string>{"1|a|NULL", "2|bb|NULL", "3|ccc|n", "4|dddd|n"});
    // A column dropped: the old plans would name it.
    CHECK(simple(app, "ALTER TABLE shape_mig DROP COLUMN v").tag == "ALTER TABLE");
    after = simple(app, "UPDATE shape_mig SET note = 'x' WHERE id = 1");
    CHECK_MESSAGE(after.tag == "UPDATE 1", after.describe());
    after = simple(app, "UPDATE shape_mig SET note = 'yy' WHERE id = 2");
    CHECK_MESSAGE(after.tag == "UPDATE 1", after.describe());
    CHECK(
        rows(direct, "SELECT id, note FROM shape_mig_rev WHERE note IN ('x', 'yy') ORDER BY id") ==
        std::vector<std::string>{"1|x", "2|yy"});
}

TEST_CASE("DISCARD ALL between texts of one shape changes nothing of what the client sees") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    long before = count(direct, "SELECT count(*) FROM reservation_rev");
    seed_reservations();
    expect_transparent("DISCARD ALL in the middle", [](PgConn&, Transcript& t) {
        t.query("UPDATE reservation SET party = 2 WHERE id = 100001 RETURNING party", soon());
        t.query("UPDATE reservation SET party = 3 WHERE id = 100002 RETURNING party", soon());
        t.query("DISCARD ALL", soon());
        t.query("UPDATE reservation SET party = 4 WHERE id = 100001 RETURNING party", soon());
        t.query("UPDATE reservation SET party = 5 WHERE id = 100003 RETURNING party", soon());
        t.query("SHOW search_path", soon());
    });
    // Directly no revisions; through pgrev one per UPDATE.
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == before + 4);
}
