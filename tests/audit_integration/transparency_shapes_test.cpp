// Audited statements of every shape give the client exactly what PostgreSQL gives directly
// (rows, column names and types, tags, errors) while pgrev writes one revision per changed row
// (docs/ARCHITECTURE.md, Life of a client message). Each story runs inside BEGIN ... ROLLBACK
// on the seeded rows 100001-100003.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

TEST_CASE("RETURNING lists come back unchanged through the rewrite") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("RETURNING *",
                {"INSERT INTO reservation (id, name, date, time, party, last_modified) VALUES "
                 "(100010, 'Dora', '2015-06-01', '20:00', 5, '2015-05-01 12:00:00+00') "
                 "RETURNING *",
                 "UPDATE reservation SET party = party + 1 WHERE id IN (100001, 100010) "
                 "RETURNING *",
                 "DELETE FROM reservation WHERE id = 100010 RETURNING *"},
                4),
        queries("RETURNING expressions with aliases",
                {"UPDATE reservation SET party = 7 WHERE id = 100002 RETURNING id AS "
                 "reservation_id, name || ' (' || party || ')' AS label, party * 2 AS seats, "
                 "date + 1 AS next_day, 42, party::text",
                 "INSERT INTO reservation (id, name) VALUES (100011, 'Eve') RETURNING "
                 "upper(name) AS shout, last_modified IS NOT NULL AS stamped, reservation.party",
                 "DELETE FROM reservation WHERE id = 100011 RETURNING reservation.id, 'gone' AS "
                 "note, (SELECT count(*) FROM dinner_slot) AS slots"},
                3),
        queries("RETURNING through the target's alias",
                {"UPDATE reservation AS r SET party = 4 WHERE r.id = 100001 RETURNING r.id, "
                 "r.party * 2",
                 "INSERT INTO reservation AS r (id, name, party, last_modified) VALUES (100012, "
                 "'Fay', 3, '2015-05-05 05:05:05+00') RETURNING r.name, r.party, party",
                 "DELETE FROM reservation r WHERE r.id = 100012 RETURNING r.*"},
                3),
        queries("RETURNING the whole row by the target's name",
                {"UPDATE reservation SET party = 3 WHERE id = 100001 RETURNING reservation",
                 "DELETE FROM reservation r WHERE r.id = 100002 RETURNING r, (r).name"},
                2),
        queries("RETURNING system columns (the xmax idiom of upserts, tableoid)",
                {"INSERT INTO reservation (id, name, party) VALUES (100001, 'Steve', 6), "
                 "(100040, 'Gus', 2) ON CONFLICT (id) DO UPDATE SET party = EXCLUDED.party "
                 "RETURNING id, (xmax = 0) AS inserted",
                 "UPDATE reservation SET party = 1 WHERE id = 100003 RETURNING "
                 "tableoid::regclass AS tab, id"},
                3),
    });
}

TEST_CASE("UPDATE ... FROM and DELETE ... USING with RETURNING of several tables") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("UPDATE ... FROM another table, RETURNING columns of both and *",
                {"UPDATE reservation r SET party = s.party FROM dinner_slot s WHERE r.id = s.id "
                 "RETURNING r.id, s.name AS slot, r.party, *",
                 "UPDATE reservation SET name = dinner_slot.name FROM dinner_slot WHERE "
                 "reservation.id = dinner_slot.id AND dinner_slot.party > 4 "
                 "RETURNING reservation.name, dinner_slot.*"},
                3),
        queries("DELETE ... USING, RETURNING columns of both",
                {"DELETE FROM reservation r USING dinner_slot s WHERE r.id = s.id AND "
                 "s.name = 'terrace' RETURNING r.*, s.party AS slot_party",
                 "DELETE FROM reservation USING (VALUES (100001), (100003)) AS v(id) WHERE "
                 "reservation.id = v.id RETURNING v.id, reservation.name"},
                3),
        queries("UPDATE ... FROM a CTE of the user's, RETURNING *",
                {"WITH v AS (SELECT 100001 AS id, 9 AS p) UPDATE reservation r SET party = v.p "
                 "FROM v WHERE r.id = v.id RETURNING v.id, r.party, *"},
                1),
        queries("UPDATE ... FROM without RETURNING",
                {"UPDATE reservation SET party = dinner_slot.party FROM dinner_slot WHERE "
                 "reservation.id = dinner_slot.id"},
                2),
    });
}

TEST_CASE("INSERT shapes: multi-row VALUES, INSERT ... SELECT, ON CONFLICT") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("multi-row VALUES",
                {"INSERT INTO reservation (id, name, party) VALUES (100020, 'a', 1), "
                 "(100021, 'b', 2), (100022, 'c', DEFAULT)",
                 "INSERT INTO reservation (id, name) VALUES (100023, 'd'), (100024, 'e') "
                 "RETURNING id, name"},
                5),
        queries("INSERT ... SELECT",
                {"INSERT INTO reservation (id, name, party, last_modified) SELECT id + 100, "
                 "name || ' again', party, last_modified FROM reservation WHERE id BETWEEN "
                 "100001 AND 100003",
                 "INSERT INTO reservation (id, name) SELECT g, 'gen ' || g FROM "
                 "generate_series(100200, 100209) g RETURNING id"},
                13),
        queries("ON CONFLICT DO NOTHING and DO UPDATE",
                {"INSERT INTO reservation (id, name, party) VALUES (100001, 'dup', 1), "
                 "(100030, 'new', 2) ON CONFLICT (id) DO NOTHING",
                 "INSERT INTO reservation (id, name, party) VALUES (100001, 'dup', 1), "
                 "(100002, 'dup2', 9), (100031, 'new2', 2) ON CONFLICT (id) DO UPDATE SET "
                 "party = EXCLUDED.party WHERE reservation.party < EXCLUDED.party",
                 "INSERT INTO reservation AS r (id, name, party) VALUES (100030, 'x', 5) "
                 "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name || r.name "
                 "RETURNING id, name, party",
                 "INSERT INTO reservation (id, name, party) VALUES (100001, 'x', 1) "
                 "ON CONFLICT DO NOTHING RETURNING *"},
                4),
        queries("an INSERT that inserts nothing, an UPDATE and a DELETE that match no row",
                {"UPDATE reservation SET party = 1 WHERE id = -1",
                 "DELETE FROM reservation WHERE false RETURNING *",
                 "INSERT INTO reservation (id, name) SELECT 1, 'x' WHERE false",
                 "UPDATE reservation r SET party = s.party FROM dinner_slot s WHERE r.id = s.id "
                 "AND false RETURNING r.id, s.name"},
                0),
    });
}

TEST_CASE("WITH in front of a DML and DML inside the user's WITH") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("the user's WITH and WITH RECURSIVE in front of a DML",
                {"WITH v(id, p) AS (VALUES (100001, 7), (100002, 8)) UPDATE reservation SET "
                 "party = v.p FROM v WHERE reservation.id = v.id",
                 "WITH newest AS (SELECT max(id) AS id FROM reservation WHERE id BETWEEN 100001 "
                 "AND 100003) DELETE FROM reservation WHERE id IN (SELECT id FROM newest) "
                 "RETURNING name",
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) "
                 "INSERT INTO reservation (id, name, party) SELECT 100050 + i, 'r' || i, i "
                 "FROM n RETURNING id, name"},
                6),
        queries("DML inside the user's CTE",
                {"WITH u AS (UPDATE reservation SET party = party + 1 WHERE id BETWEEN 100001 "
                 "AND 100003 RETURNING *) SELECT count(*) FROM u",
                 "WITH d AS (DELETE FROM reservation WHERE id = 100003 RETURNING id, name) "
                 "SELECT * FROM d",
                 "WITH x AS (UPDATE reservation SET party = 1 WHERE id = 100001) SELECT 'done' "
                 "AS status",
                 "WITH i AS (INSERT INTO reservation (id, name) VALUES (100060, 'cte') RETURNING "
                 "id), j AS (INSERT INTO dinner_slot (id, name) SELECT id, 'slot' FROM i "
                 "RETURNING id, name) SELECT * FROM j",
                 "WITH u AS (UPDATE reservation SET party = 2 WHERE id = 100002 RETURNING id) "
                 "DELETE FROM reservation WHERE id = 100060 RETURNING id, (SELECT count(*) FROM "
                 "u) AS updated"},
                8),
        queries("plain EXPLAIN of an audited DML runs nothing",
                {"EXPLAIN (COSTS OFF) UPDATE reservation SET party = 1 WHERE id = 100001",
                 "EXPLAIN (COSTS OFF, ANALYZE false) DELETE FROM reservation"},
                0),
    });
}

// PostgreSQL refuses aggregates, window and set-returning functions in RETURNING; through pgrev
// the client gets the same error (message, SQLSTATE, position), whichever function it is (a
// user-defined aggregate included), and allowed functions run once per row, as directly.
TEST_CASE("RETURNING with aggregates, window or set-returning functions is PostgreSQL's error") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    std::vector<AuditedStory> stories;
    for (const char* sql : {
             "UPDATE reservation SET party = party WHERE id BETWEEN 100001 AND 100003 "
             "RETURNING count(*)",
             "UPDATE reservation SET party = party WHERE id BETWEEN 100001 AND 100003 "
             "RETURNING id, generate_series(1, 3)",
             "UPDATE reservation SET party = party WHERE id BETWEEN 100001 AND 100003 "
             "RETURNING row_number() OVER ()",
             "INSERT INTO reservation (id, name) VALUES (100070, 'x') RETURNING *, max(id) AS m",
             "DELETE FROM reservation WHERE id = 100003 RETURNING name, "
             "CASE WHEN id > 0 THEN unnest(ARRAY[1, 2]) END",
             "DELETE FROM reservation r WHERE r.id = 100003 RETURNING (SELECT count(r.id))",
             "UPDATE reservation r SET party = s.party FROM dinner_slot s WHERE r.id = s.id "
             "RETURNING r.id, sum(s.party)",
             "UPDATE reservation r SET party = 1 FROM dinner_slot s WHERE r.id = s.id "
             "RETURNING *, rank() OVER (ORDER BY s.id)",
             "WITH u AS (UPDATE reservation SET party = 1 WHERE id = 100001 RETURNING "
             "lower(name), string_agg(name, ',')) SELECT * FROM u",
             "UPDATE reservation SET party = 1 WHERE id = 100001 RETURNING no_such_function(id)",
         }) {
        stories.push_back(queries(sql, {sql}, -1));
    }
    stories.push_back(queries("a user-defined aggregate",
                              {"CREATE AGGREGATE pgrev_test_total(int) (SFUNC = int4pl, "
                               "STYPE = int, INITCOND = '0')",
                               "UPDATE reservation SET party = 1 WHERE id = 100001 RETURNING "
                               "id, pgrev_test_total(party)"},
                              -1));
    stories.push_back(queries(
        "allowed functions in RETURNING, volatile ones evaluated once per row",
        {"CREATE TEMP SEQUENCE pgrev_test_seq",
         "UPDATE reservation SET party = party WHERE id BETWEEN 100001 AND 100003 RETURNING "
         "lower(name) AS l, nextval('pgrev_test_seq') > 0 AS counted",
         "SELECT currval('pgrev_test_seq')",
         "WITH u AS (UPDATE reservation SET party = party + 1 WHERE id BETWEEN 100001 AND 100003 "
         "RETURNING id, nextval('pgrev_test_seq') AS n) SELECT count(*), sum(n) FROM u",
         "INSERT INTO reservation (id, name, last_modified) VALUES (100071, 'Zed', "
         "'2015-01-01 00:00:00+00') RETURNING *, upper(name), nextval('pgrev_test_seq')",
         "UPDATE reservation r SET party = s.party FROM dinner_slot s WHERE r.id = s.id "
         "RETURNING r.id, lower(s.name), (SELECT count(*) FROM dinner_slot), "
         "nextval('pgrev_test_seq') - nextval('pgrev_test_seq') AS d",
         "SELECT currval('pgrev_test_seq')",
         "UPDATE reservation r SET party = 5 WHERE id = 100002 RETURNING r, row_to_json(r), "
         "lower(r.name), (r).party",
         "UPDATE reservation r SET party = 6 WHERE id = 100003 RETURNING ARRAY[r.id, r.party] "
         "AS ints, upper(r.name), (ARRAY[r.name, 'x'])[1:1] AS s"},
        11));
    run_stories(stories);
}

// PostgreSQL evaluates the RETURNING list of a data-modifying WITH for every row it changes,
// whether the outer query reads the rows or not: an error there fails the statement, and a
// volatile function runs once per row. pgrev's projection of that list must do the same.
TEST_CASE("RETURNING of a change inside WITH is evaluated for every row, read or not") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("an error in a RETURNING the outer query counts",
                {"WITH w AS (UPDATE reservation SET party = 5 WHERE id BETWEEN 100001 AND 100003 "
                 "RETURNING id, 1 / (id - id)) SELECT count(*) FROM w"},
                -1),
        queries("an error in a RETURNING the outer query never reads",
                {"WITH w AS (UPDATE reservation SET party = 5 WHERE id = 100001 RETURNING "
                 "1 / (id - id)) SELECT 1"},
                -1),
        queries("an error in a RETURNING behind a main DML",
                {"WITH w AS (DELETE FROM reservation WHERE id = 100002 RETURNING 1 / (id - id)) "
                 "UPDATE dinner_slot SET party = 1 WHERE id = 0"},
                -1),
        queries("a volatile function runs once per changed row",
                {"CREATE TEMP SEQUENCE pgrev_test_cte_seq",
                 "WITH u AS (UPDATE reservation SET party = party + 1 WHERE id BETWEEN 100001 AND "
                 "100003 RETURNING id, nextval('pgrev_test_cte_seq') AS n) SELECT n > 0 FROM u "
                 "LIMIT 1",
                 "SELECT currval('pgrev_test_cte_seq')",
                 "WITH u AS NOT MATERIALIZED (UPDATE reservation SET party = party + 1 WHERE id = "
                 "100001 RETURNING nextval('pgrev_test_cte_seq') AS n) SELECT count(*) FROM u, "
                 "u AS again",
                 "SELECT currval('pgrev_test_cte_seq')"},
                4),
    });
}
