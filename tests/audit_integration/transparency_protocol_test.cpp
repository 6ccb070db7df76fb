// Audited statements through the extended protocol: parameters, prepared statements and their
// descriptions, binary results, pipeline mode, and SQL-level PREPARE / EXECUTE, whose tags
// pgrev must restore too (docs/ARCHITECTURE.md, Catalog and generations: the books).
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

AuditedStory story(std::string name, Session body, int expected_revs) {
    AuditedStory s;
    s.story = std::move(name);
    s.body = std::move(body);
    s.expected_revs = expected_revs;
    return s;
}

// Reads `items` pipeline items: a command's results up to its end, or one PGRES_PIPELINE_SYNC.
void read_pipeline(PgConn& c, Transcript& t, int items) {
    for (int item = 1; item <= items; ++item) {
        std::string label = "item " + std::to_string(item);
        PgResult first = c.next_result(soon());
        if (!first) {
            t.note(label + ": (no result)");
            continue;
        }
        bool sync = PQresultStatus(first.get()) == PGRES_PIPELINE_SYNC;
        t.result(label, first.get());
        if (!sync) t.rest_of_command(label, soon());
    }
}

void pipe(PgConn& c, Transcript& t, const std::string& sql,
          const std::vector<const char*>& params = {}) {
    if (!PQsendQueryParams(c.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                           params.data(), nullptr, nullptr, 0)) {
        t.note("send failed: " + c.error_message());
    }
}

}  // namespace

TEST_CASE("parameters and prepared statements of audited DML") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        story(
            "parameters through PQexecParams",
            [](PgConn& c, Transcript& t) {
                send_params(c, t,
                            "UPDATE reservation SET party = $1 WHERE id = $2 RETURNING "
                            "id, party",
                            {"5", "100001"});
                send_params(c, t,
                            "INSERT INTO reservation (id, name, date, time, party) VALUES ($1, "
                            "$2, $3, $4, $5) RETURNING id, name, date, time, party",
                            {"100090", "Hal", "2015-07-01", "21:15", nullptr});
                send_params(c, t, "DELETE FROM reservation WHERE id = ANY($1::int[]) RETURNING id",
                            {"{100002,100003}"});
                send_params(c, t, "UPDATE reservation SET date = $1 WHERE id = $2 RETURNING date",
                            {"2015-08-01", "100001"});
                send_params(c, t,
                            "INSERT INTO reservation (id, name) VALUES (100091, 'x') "
                            "RETURNING $1 AS echo, $2::int + id AS sum",
                            {"hello", "1"});
                // A type error at a parameter: the same error, and the transaction fails.
                t.query("SAVEPOINT p", soon());
                send_params(c, t, "UPDATE reservation SET party = $1 WHERE id = 100001", {"abc"});
                send_params(c, t, "INSERT INTO reservation (id, name) VALUES ($1, $2)",
                            {"100092", nullptr});
                t.query("ROLLBACK TO SAVEPOINT p", soon());
                send_params(c, t, "UPDATE reservation SET party = $1 WHERE id = $2 RETURNING *",
                            {"abc", "100001"});
                t.query("ROLLBACK TO SAVEPOINT p", soon());
            },
            6),
        story(
            "PQprepare, PQdescribePrepared and PQexecPrepared",
            [](PgConn& c, Transcript& t) {
                prepare(c, t, "upd",
                        "UPDATE reservation SET party = $1 WHERE id = $2 RETURNING id, party * 2 "
                        "AS doubled");
                describe_prepared(c, t, "upd");
                exec_prepared(c, t, "upd", {"3", "100001"});
                exec_prepared(c, t, "upd", {"4", "100002"});
                exec_prepared(c, t, "upd", {"4", "-1"});
                prepare(c, t, "ins", "INSERT INTO reservation (id, name) VALUES ($1, $2)");
                describe_prepared(c, t, "ins");
                exec_prepared(c, t, "ins", {"100093", "one"});
                exec_prepared(c, t, "ins", {"100094", "two"});
                prepare(c, t, "", "DELETE FROM reservation WHERE id = $1");
                describe_prepared(c, t, "");
                exec_prepared(c, t, "", {"100094"});
                prepare(c, t, "copy",
                        "INSERT INTO reservation (id, name, party) SELECT id + $1, name, $2 FROM "
                        "reservation WHERE id = $3 RETURNING *");
                describe_prepared(c, t, "copy");
                prepare(c, t, "join",
                        "UPDATE reservation r SET party = s.party + $1 FROM dinner_slot s WHERE "
                        "r.id = s.id RETURNING r.id, s.*");
                describe_prepared(c, t, "join");
                exec_prepared(c, t, "join", {"1"});
                // An error when the statement is prepared: the same, at the same position.
                t.query("SAVEPOINT p", soon());
                prepare(c, t, "bad",
                        "UPDATE reservation SET party = $1 WHERE nosuch = $2 RETURNING id");
                t.query("ROLLBACK TO SAVEPOINT p", soon());
                prepare(c, t, "bad", "DELETE FROM reservation WHERE id = $1 RETURNING id, nosuch");
                t.query("ROLLBACK TO SAVEPOINT p", soon());
            },
            7),
        story(
            "binary parameters and results",
            [](PgConn& c, Transcript& t) {
                const char* values[] = {"100001"};
                t.note("> binary results");
                if (!PQsendQueryParams(c.get(),
                                       "UPDATE reservation SET party = party + 1 WHERE id = $1 "
                                       "RETURNING id, name, date, time, party, last_modified",
                                       1, nullptr, values, nullptr, nullptr, 1)) {
                    t.note("send failed");
                }
                t.rest_of_command("  result", soon());
            },
            1),
    });
}

TEST_CASE("pipeline mode with audited DML and an error in the middle") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({story(
        "pipeline with savepoint segments",
        [](PgConn& c, Transcript& t) {
            REQUIRE(PQenterPipelineMode(c.get()) == 1);
            pipe(c, t, "UPDATE reservation SET party = $1 WHERE id = 100001 RETURNING party",
                 {"8"});
            pipe(c, t, "INSERT INTO reservation (id, name) VALUES ($1, 'piped')", {"100095"});
            pipe(c, t, "SAVEPOINT a");
            PQpipelineSync(c.get());
            pipe(c, t, "UPDATE reservation SET party = 1 WHERE id = 100002");
            pipe(c, t, "INSERT INTO reservation (id, name) VALUES ($1, 'dup')", {"100001"});
            pipe(c, t, "DELETE FROM reservation WHERE id = 100003 RETURNING id");
            PQpipelineSync(c.get());
            pipe(c, t, "ROLLBACK TO SAVEPOINT a");
            pipe(c, t, "SELECT party FROM reservation WHERE id = 100001");
            pipe(c, t, "DELETE FROM reservation WHERE id = $1 RETURNING id, name", {"100003"});
            PQpipelineSync(c.get());
            read_pipeline(c, t, 12);
            t.note(std::string("exit pipeline mode: ") +
                   (PQexitPipelineMode(c.get()) ? "ok" : c.error_message()));
            t.query(
                "SELECT id, party FROM reservation WHERE id BETWEEN 100001 AND 100095 "
                "ORDER BY id",
                soon());
        },
        3)});
}

TEST_CASE("SQL PREPARE, EXECUTE and DEALLOCATE of audited DML") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({queries(
        "PREPARE / EXECUTE / DEALLOCATE",
        {"PREPARE up(int, int) AS UPDATE reservation SET party = $2 WHERE id = $1",
         "EXECUTE up(100001, 3)", "EXECUTE up(100002, 4)",
         "PREPARE ins AS INSERT INTO reservation (id, name) VALUES (100096, 'prep') RETURNING "
         "id, name",
         "EXECUTE ins", "PREPARE del(int) AS DELETE FROM reservation WHERE id = $1 RETURNING name",
         "EXECUTE del(100096)", "DEALLOCATE up", "SAVEPOINT gone", "EXECUTE up(100001, 5)",
         "ROLLBACK TO SAVEPOINT gone",
         // The same name for a SELECT: its tag stays SELECT.
         "PREPARE up(int, int) AS SELECT $1 + $2 AS total", "EXECUTE up(1, 2)", "DEALLOCATE ALL",
         "PREPARE up AS UPDATE reservation SET party = 1 WHERE id = 100003", "EXECUTE up",
         "PREPARE nothing AS UPDATE reservation SET party = 1 WHERE false", "EXECUTE nothing",
         "PREPARE a1 AS UPDATE reservation SET party = 2 WHERE id = 100003; EXECUTE a1; "
         "EXECUTE nothing",
         "DEALLOCATE a1", "SAVEPOINT gone", "EXECUTE a1", "ROLLBACK TO SAVEPOINT gone"},
        6)});
}

TEST_CASE("EXECUTE of a prepared audited DML has the DML's tag") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn c = connect_proxied();
    exec(c, "BEGIN");
    exec(c, "PREPARE up(int) AS UPDATE reservation SET party = $1 WHERE id IN (100001, 100002)");
    exec(c, "PREPARE ins(int) AS INSERT INTO reservation (id, name) VALUES ($1, 'p')");
    exec(c, "PREPARE del(int) AS DELETE FROM reservation WHERE id = $1 RETURNING id");
    CHECK(simple(c, "EXECUTE up(3)").tag == "UPDATE 2");
    CHECK(simple(c, "EXECUTE ins(100097)").tag == "INSERT 0 1");
    Outcome deleted = simple(c, "EXECUTE del(100097)");
    CHECK(deleted.tag == "DELETE 1");
    CHECK(deleted.rows == std::vector<std::string>{"100097"});
    // EXECUTE through the extended protocol (as drivers without SQL parsing send it).
    CHECK(with_params(c, "EXECUTE up(4)", {}).tag == "UPDATE 2");
    exec(c, "ROLLBACK");
    // PREPARE is not transactional: the statements outlive the ROLLBACK, until DISCARD ALL.
    exec(c, "BEGIN");
    CHECK(simple(c, "EXECUTE up(5)").tag == "UPDATE 2");
    exec(c, "ROLLBACK");
    exec(c, "DISCARD ALL");
    CHECK(simple(c, "EXECUTE up(6)").sqlstate == "26000");
    exec(c, "PREPARE up(int) AS SELECT $1 AS just_a_select");
    Outcome selected = simple(c, "EXECUTE up(7)");
    CHECK(selected.tag == "SELECT 1");
    CHECK(selected.rows == std::vector<std::string>{"7"});
}

// Regression (psycopg 3): the server names the statement pgrev sent (INSERT for the revision,
// SELECT for a projection of RETURNING); the client must read its own, in both protocols.
TEST_CASE("a read-only transaction names the client's statement, in both protocols") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    for (bool extended : {false, true}) {
        for (const char* sql :
             {"UPDATE reservation SET party = 1 WHERE id = 100001",
              "DELETE FROM reservation WHERE id = 100001",
              "UPDATE reservation SET party = 1 WHERE id = 100001 RETURNING id",
              "INSERT INTO reservation (id, name) VALUES (100099, 'ro') RETURNING id"}) {
            CAPTURE(extended);
            CAPTURE(std::string(sql));
            Outcome seen[2];
            PgConn* conns[2] = {&direct, &app};
            for (int i = 0; i < 2; ++i) {
                exec(*conns[i], "BEGIN READ ONLY");
                seen[i] = extended ? with_params(*conns[i], sql, {}) : simple(*conns[i], sql);
                exec(*conns[i], "ROLLBACK");
            }
            CHECK(seen[0].sqlstate == "25006");
            CHECK(seen[1].sqlstate == seen[0].sqlstate);
            CHECK(seen[1].message == seen[0].message);
        }
    }
}

// Regression (psycopg2): PostgreSQL refuses CREATE TABLE AS EXECUTE of a prepared statement
// that is not a SELECT; pgrev's rewrite of an audited UPDATE ... RETURNING is one, so pgrev
// must refuse it the same way, and nothing may change.
TEST_CASE("CREATE TABLE AS EXECUTE of a prepared audited DML fails as it does directly") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    std::string before = direct.value("SELECT party FROM reservation WHERE id = 100001",
                                      deadline_in(std::chrono::seconds(10)));
    long revs = count(direct, "SELECT count(*) FROM reservation_rev");
    for (bool through_pgrev : {false, true}) {
        CAPTURE(through_pgrev);
        PgConn c = through_pgrev ? connect_proxied() : connect_direct();
        exec(c,
             "PREPARE up AS UPDATE reservation SET party = 9 WHERE id = 100001 "
             "RETURNING party");
        Outcome o = simple(c, "CREATE TEMP TABLE ctas AS EXECUTE up");
        CHECK(o.sqlstate == "42809");
        CHECK(o.message == "prepared statement is not a SELECT");
    }
    CHECK(direct.value("SELECT party FROM reservation WHERE id = 100001",
                       deadline_in(std::chrono::seconds(10))) == before);
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
}

// Regression (review): libpq's extended-protocol COPY sends a Sync the server ignores during
// copy-in; pgrev counted it, and every later command tag was the previous command's.
TEST_CASE("command tags stay right after a COPY through the extended protocol") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn app = connect_proxied();
    exec(app, "BEGIN");
    exec(app, "CREATE TEMP TABLE copy_t (v int)");
    PgResult started(PQexecParams(app.get(), "COPY copy_t FROM STDIN", 0, nullptr, nullptr, nullptr,
                                  nullptr, 0));
    REQUIRE(PQresultStatus(started.get()) == PGRES_COPY_IN);
    REQUIRE(PQputCopyData(app.get(), "1\n2\n", 4) == 1);
    REQUIRE(PQputCopyEnd(app.get(), nullptr) == 1);
    PgResult copied(PQgetResult(app.get()));
    CHECK(std::string(PQcmdStatus(copied.get())) == "COPY 2");
    while (PGresult* rest = PQgetResult(app.get()))
        PQclear(rest);
    CHECK(simple(app, "UPDATE reservation SET party = party WHERE id IN (100001, 100002)").tag ==
          "UPDATE 2");
    CHECK(simple(app, "SELECT 1").tag == "SELECT 1");
    CHECK(with_params(app, "DELETE FROM reservation WHERE id = 100003", {}).tag == "DELETE 1");
    exec(app, "ROLLBACK");
}
