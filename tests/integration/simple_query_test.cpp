// Simple Query protocol: whatever a client sends as one Query string, it gets the same
// results, command tags, errors and notices through pgrev as from PostgreSQL itself.
#include <doctest/doctest.h>

#include "differential.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

struct Scenario {
    const char* story;
    std::vector<std::string> queries;  // one session, one Query message each
};

const std::vector<Scenario> kScenarios = {
    {"values of many types",
     {"SELECT 1 AS one, 'text'::text AS t, NULL::int AS nothing, 1.5::numeric(10,3) AS n, "
      "true AS b, 'NaN'::float8 AS nan, 2.5e300::float8 AS big, '-32768'::int2 AS small",
      "SELECT '2024-01-02'::date, '12:34:56.789'::time, '2024-01-02 03:04:05+02'::timestamptz, "
      "'1 year 2 mons 3 days'::interval, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
      "SELECT '{\"a\": [1, 2, {\"b\": null}]}'::jsonb, ARRAY[1,2,NULL]::int[], "
      "'\\xdeadbeef'::bytea, '192.168.0.1/24'::inet, 'héllo wörld ✓'::text, ''::text AS empty",
      "SELECT 'pg_class'::regclass, 'int4'::regtype::oid, (1,'x')::record AS r"}},
    {"many rows", {"SELECT g, md5(g::text) FROM generate_series(1, 5000) AS g"}},
    {"a long query text",
     {"SELECT length('" + std::string(200000, 'x') + "') AS len, '" + std::string(1000, 'y') +
      "' AS ys"}},
    {"several statements in one Query",
     {"SELECT 1 AS a; SELECT 2 AS b, 3 AS c; VALUES (4), (5)",
      "CREATE TEMP TABLE sq_multi (id int PRIMARY KEY, v text); "
      "INSERT INTO sq_multi VALUES (1, 'a'), (2, 'b'); UPDATE sq_multi SET v = 'c' WHERE id = 2; "
      "DELETE FROM sq_multi WHERE id = 1; SELECT * FROM sq_multi",
      "INSERT INTO sq_multi VALUES (3, 'x') RETURNING id, v || '!' AS shout",
      "INSERT INTO sq_multi VALUES (2, 'duplicate')"}},
    {"an error in the middle of a multi-statement Query",
     {"SELECT 1 AS before; SELECT 1/0; SELECT 3 AS never",
      "SELECT 'after the error' AS still_usable"}},
    {"a syntax error reports its position", {"SELECT 1; SELEC 2", "SELECT * FROM no_such_table"}},
    {"empty queries", {"", ";", "  -- only a comment", "SELECT 1;;"}},
    {"notices from RAISE NOTICE in a DO block",
     {"DO $$BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END$$",
      "DO $$BEGIN RAISE NOTICE 'first'; END$$; SELECT 'between'; "
      "DO $$BEGIN RAISE NOTICE 'second'; END$$",
      "DO $$BEGIN RAISE EXCEPTION 'custom failure' USING ERRCODE = 'P0001', DETAIL = 'the "
      "detail', HINT = 'the hint'; END$$",
      "SET client_min_messages = warning",
      "DO $$BEGIN RAISE NOTICE 'suppressed'; RAISE WARNING 'shown'; END$$",
      "DROP TABLE IF EXISTS sq_does_not_exist"}},
    {"SHOW and SET",
     {"SHOW server_version", "SHOW search_path", "SET search_path = pg_catalog, public",
      "SHOW search_path", "SET TimeZone = 'Asia/Tokyo'",
      "SELECT '2024-01-02 03:04:05+00'::timestamptz", "SET DateStyle = 'German'",
      "SELECT '2024-01-02'::date", "RESET ALL", "SHOW DateStyle", "SET no_such_setting = 1",
      "SET statement_timeout = 'soon'"}},
    {"a transaction rolled back",
     {"BEGIN", "CREATE TEMP TABLE sq_tx (v int)", "INSERT INTO sq_tx VALUES (1), (2)",
      "SELECT count(*) FROM sq_tx", "ROLLBACK", "SELECT count(*) FROM sq_tx"}},
    {"a transaction committed, with a savepoint",
     {"CREATE TEMP TABLE sq_sp (v int)", "BEGIN; INSERT INTO sq_sp VALUES (1)", "SAVEPOINT s1",
      "INSERT INTO sq_sp VALUES (1/0)", "ROLLBACK TO SAVEPOINT s1", "INSERT INTO sq_sp VALUES (2)",
      "COMMIT", "SELECT * FROM sq_sp ORDER BY v"}},
    {"a failed transaction block",
     {"BEGIN", "SELECT 1/0", "SELECT 1", "COMMIT", "SELECT 'after' AS ok",
      "BEGIN; SELECT 1/0; COMMIT", "SELECT 1", "ROLLBACK"}},
    {"an implicit transaction of several statements fails as a whole",
     {"CREATE TEMP TABLE sq_implicit (v int)",
      "INSERT INTO sq_implicit VALUES (1); INSERT INTO sq_implicit VALUES (1/0)",
      "SELECT count(*) FROM sq_implicit"}},
    {"constraint violations carry their fields",
     {"CREATE TEMP TABLE sq_c (id int PRIMARY KEY, n int NOT NULL CHECK (n > 0))",
      "INSERT INTO sq_c VALUES (1, 1)", "INSERT INTO sq_c VALUES (1, 1)",
      "INSERT INTO sq_c VALUES (2, NULL)", "INSERT INTO sq_c VALUES (3, -1)"}},
    {"SQL-level PREPARE and EXECUTE",
     {"PREPARE sq_plan(int) AS SELECT $1 * 2 AS doubled", "EXECUTE sq_plan(21)",
      "EXECUTE sq_plan('x')", "DEALLOCATE sq_plan", "EXECUTE sq_plan(1)"}},
    {"cursors",
     {"BEGIN", "DECLARE sq_cur CURSOR FOR SELECT g FROM generate_series(1, 10) g",
      "FETCH 3 FROM sq_cur", "MOVE 2 IN sq_cur", "FETCH ALL FROM sq_cur", "CLOSE sq_cur",
      "COMMIT"}},
};

}  // namespace

TEST_CASE("simple queries give the same results, tags, errors and notices through pgrev") {
    for (const Scenario& scenario : kScenarios) {
        std::string story = scenario.story;
        CAPTURE(story);
        expect_transparent(scenario.story, [&](PgConn&, Transcript& transcript) {
            for (const std::string& sql : scenario.queries) {
                transcript.query(sql, deadline_in(std::chrono::seconds(10)));
            }
        });
    }
}

TEST_CASE("a session starts with the same parameters through pgrev as directly") {
    const char* parameters[] = {"server_version",    "server_encoding",
                                "client_encoding",   "DateStyle",
                                "IntervalStyle",     "TimeZone",
                                "integer_datetimes", "standard_conforming_strings",
                                "is_superuser",      "session_authorization",
                                "application_name",  "default_transaction_read_only",
                                "in_hot_standby"};
    std::string story = expect_transparent("startup parameters", [&](PgConn& conn, Transcript& t) {
        for (const char* name : parameters) {
            const char* value = PQparameterStatus(conn.get(), name);
            t.note(std::string(name) + " = " + (value ? value : "(not reported)"));
        }
        t.note("protocol " + std::to_string(PQprotocolVersion(conn.get())) + ", server " +
               std::to_string(PQserverVersion(conn.get())));
        // The cancel key names the real backend, or PQcancel could not work.
        std::string pid =
            conn.value("SELECT pg_backend_pid()", deadline_in(std::chrono::seconds(5)));
        t.note(std::string("PQbackendPID is pg_backend_pid(): ") +
               (pid == std::to_string(PQbackendPID(conn.get())) ? "yes" : "no"));
    });
    CHECK(story.find("PQbackendPID is pg_backend_pid(): yes") != std::string::npos);
}

TEST_CASE("a parameter change is reported to the client through pgrev") {
    expect_transparent("ParameterStatus after SET", [](PgConn& conn, Transcript& t) {
        Deadline deadline = deadline_in(std::chrono::seconds(5));
        t.query("SET application_name = 'changed by the test'", deadline);
        t.query("SET TimeZone = 'America/New_York'", deadline);
        t.note(std::string("application_name = ") +
               PQparameterStatus(conn.get(), "application_name"));
        t.note(std::string("TimeZone = ") + PQparameterStatus(conn.get(), "TimeZone"));
    });
}
