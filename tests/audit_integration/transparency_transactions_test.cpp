// Errors, several statements in one Query, savepoints and failed transactions: through pgrev
// the client sees the same errors (message, position, detail) and the same transaction states
// as directly, and revisions live and die with the changes they record (one statement does both).
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

// Each statement inside its own savepoint, so one error does not hide the next.
std::vector<std::string> each_in_savepoint(const std::vector<std::string>& statements) {
    std::vector<std::string> steps;
    for (const std::string& sql : statements) {
        steps.push_back("SAVEPOINT each");
        steps.push_back(sql);
        steps.push_back("ROLLBACK TO SAVEPOINT each");
    }
    return steps;
}

}  // namespace

TEST_CASE("errors of audited statements are the server's, with the client's positions") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("errors with positions",
                each_in_savepoint({
                    "UPDATE reservation SET nosuch = 1 WHERE id = 100001",
                    "UPDATE reservation SET party = 1 WHERE nosuch = 1",
                    "INSERT INTO reservation (id, name) VALUES (100080, 'x') RETURNING id, nosuch",
                    "SELECT 1 AS first; UPDATE reservation AS r SET party = r.nosuch",
                    "UPDATE reservation r SET party = s.party FROM dinner_slot s WHERE r.id = "
                    "s.id RETURNING r.id, s.nosuch",
                    "WITH u AS (UPDATE reservation SET party = 'many' WHERE id = 100001 "
                    "RETURNING id) SELECT * FROM u",
                    "UPDATE reservation SET party = 'x' WHERE id = 100001",
                    "DELETE FROM reservation WHERE id = 'abc'",
                    "  /* leading comment */  DELETE FROM reservation WHERE nosuch RETURNING *",
                    "INSERT INTO reservation (id, name) VALUES (100081, 'x') RETURNING "
                    "id + 'y'",
                }),
                0),
        queries("constraint violations and run-time errors",
                each_in_savepoint({
                    "INSERT INTO reservation (id, name) VALUES (100001, 'dup')",
                    "INSERT INTO reservation (id, name, last_modified) VALUES (100081, NULL, "
                    "'2015-01-01 00:00+00')",
                    "UPDATE reservation SET id = 100002 WHERE id = 100001",
                    "UPDATE reservation SET name = NULL WHERE id = 100003 RETURNING *",
                    "UPDATE reservation SET party = 1 / 0 WHERE id = 100001",
                    "INSERT INTO reservation (id, name, party) VALUES (100082, 'big', "
                    "99999999999)",
                    "INSERT INTO reservation (id, name) VALUES (100083, 'ok'), (100001, 'dup') "
                    "ON CONFLICT (name) DO NOTHING",
                }),
                0),
    });
}

TEST_CASE("several statements in one Query, audited and not") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("a Query mixing audited and unaudited statements",
                {"SELECT 1 AS first; UPDATE reservation SET party = 2 WHERE id = 100001; "
                 "INSERT INTO dinner_slot VALUES (100003, 'bar', 1); DELETE FROM reservation "
                 "WHERE id = 100002 RETURNING name; UPDATE dinner_slot SET party = 3 WHERE id = "
                 "100003; INSERT INTO reservation (id, name) VALUES (100070, 'multi'); SELECT "
                 "count(*) FROM reservation WHERE id BETWEEN 100001 AND 100070",
                 "UPDATE reservation SET party = 5 WHERE id = 100001;;  ; DELETE FROM "
                 "reservation WHERE id = 100070"},
                5),
        queries("an error in the middle of a Query stops the rest",
                {"UPDATE reservation SET party = 9 WHERE id = 100001; SELECT 1 / 0; "
                 "UPDATE reservation SET party = 10 WHERE id = 100001",
                 "SELECT party FROM reservation WHERE id = 100001"},
                -1),
        queries("an implicit transaction of several statements fails as a whole",
                {"ROLLBACK", "SAVEPOINT nothing_to_save",
                 "UPDATE reservation SET party = 9 WHERE id = 100001; INSERT INTO reservation "
                 "(id, name) VALUES (100001, 'dup')",
                 "BEGIN", "SELECT party FROM reservation WHERE id = 100001"},
                0),
    });
}

TEST_CASE("savepoints and failed transactions keep revisions in step with the changes") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("savepoints, ROLLBACK TO and RELEASE",
                {"UPDATE reservation SET party = 10 WHERE id = 100001", "SAVEPOINT s1",
                 "UPDATE reservation SET party = 11 WHERE id IN (100001, 100002)",
                 "DELETE FROM reservation WHERE id = 100003", "ROLLBACK TO SAVEPOINT s1",
                 "SELECT id, party FROM reservation WHERE id BETWEEN 100001 AND 100003 ORDER BY "
                 "id",
                 "SAVEPOINT s2", "UPDATE reservation SET party = 12 WHERE id = 100002",
                 "RELEASE SAVEPOINT s2"},
                2),
        queries("a transaction failed by an error, then ROLLBACK",
                {"UPDATE reservation SET party = 5 WHERE id = 100001",
                 "UPDATE reservation SET nosuch = 1", "SELECT 1",
                 "UPDATE reservation SET party = 6 WHERE id = 100002",
                 "DELETE FROM reservation RETURNING id", "COMMIT", "BEGIN"},
                0),
    });
}
