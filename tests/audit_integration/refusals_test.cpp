// Fail closed (docs/ARCHITECTURE.md, Refusals): a statement that would change an audited table
// without its revision, or change the history itself, is answered with pgrev's ErrorResponse.
// Nothing changes, the connection stays usable, and an open transaction fails exactly as after
// any error - through simple queries, the extended protocol and pipeline mode alike.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

struct Refusal {
    std::string sql;
    std::string sqlstate;
    std::string names;  // what the message must name
};

const std::vector<Refusal> kRefusals = {
    {"TRUNCATE reservation", "0A000", "reservation"},
    {"TRUNCATE TABLE dinner_slot, public.reservation RESTART IDENTITY", "0A000", "reservation"},
    {"COPY reservation (id, name) FROM STDIN", "0A000", "reservation"},
    {"MERGE INTO reservation r USING dinner_slot s ON r.id = s.id WHEN MATCHED THEN UPDATE SET "
     "party = s.party WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)",
     "0A000", "reservation"},
    {"UPDATE reservation_rev SET party = 0", "42501", "reservation_rev"},
    {"DELETE FROM reservation_rev", "42501", "reservation_rev"},
    {"WITH x AS (DELETE FROM reservation_rev RETURNING 1) SELECT count(*) FROM x", "42501",
     "reservation_rev"},
    {"TRUNCATE reservation_rev", "42501", "reservation_rev"},
    {"DROP TABLE reservation_rev", "42501", "reservation_rev"},
    {"DROP TABLE IF EXISTS public.reservation_rev CASCADE", "42501", "reservation_rev"},
    {"ALTER TABLE reservation_rev ADD COLUMN note text", "42501", "reservation_rev"},
    {"ALTER TABLE reservation_rev RENAME TO old_history", "42501", "reservation_rev"},
    // A plain syntax error is the server's to report (unparsable_test.cpp); a string the
    // server continues across a comment is one libpg_query reads otherwise (issue 7 item 17).
    {"UPDATE reservation SET name = 'x' -- c\n'y' WHERE id = 100001", "42601", "reservation"},
    {"EXPLAIN ANALYZE UPDATE reservation SET party = 0", "0A000", "reservation"},
    {"EXPLAIN (ANALYZE, COSTS OFF) DELETE FROM reservation", "0A000", "reservation"},
    {"COPY (UPDATE reservation SET party = 0 RETURNING id) TO STDOUT", "0A000", "reservation"},
    // What would reach the table or its history without naming it later (links_test.cpp).
    {"ALTER SCHEMA public RENAME TO hidden", "0A000", "public.reservation"},
    {"ALTER TABLE reservation INHERIT dinner_slot", "0A000", "public.reservation"},
    {"ALTER TABLE dinner_slot RENAME TO reservation_rev", "42501", "reservation_rev"},
    {"CREATE RULE swallow AS ON INSERT TO reservation_rev DO INSTEAD NOTHING", "42501",
     "reservation_rev"},
    {"CREATE TRIGGER swallow BEFORE INSERT ON reservation_rev FOR EACH ROW EXECUTE FUNCTION "
     "suppress_redundant_updates_trigger()",
     "42501", "reservation_rev"},
};

// What must not change: the audited table and its history.
std::string snapshot(PgConn& direct) {
    return contents(direct, "reservation") + "---\n" + contents(direct, "reservation_rev");
}

void check_refused(const Outcome& o, const Refusal& r) {
    CHECK_MESSAGE(o.sqlstate == r.sqlstate, o.describe());
    CHECK_MESSAGE(o.message.rfind("pgrev: ", 0) == 0, o.message);
    CHECK_MESSAGE(o.message.find(r.names) != std::string::npos,
                  "the message should name " << r.names << ": " << o.message);
}

void check_usable(PgConn& app) {
    Outcome o = simple(app, "SELECT count(*) FROM reservation WHERE id BETWEEN 100001 AND 100003");
    CHECK_MESSAGE(o.rows == std::vector<std::string>{"3"}, o.describe());
    CHECK(PQtransactionStatus(app.get()) == PQTRANS_IDLE);
}

}  // namespace

TEST_CASE("every refusal: pgrev's error, nothing changed, the session goes on") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    for (const Refusal& r : kRefusals) {
        CAPTURE(r.sql);
        std::string before = snapshot(direct);
        {
            INFO("simple Query");
            check_refused(simple(app, r.sql), r);
            check_usable(app);
        }
        {
            INFO("in a transaction block, which fails as after any error");
            exec(app, "BEGIN");
            exec(app, "UPDATE reservation SET party = party WHERE id = 100001");
            check_refused(simple(app, r.sql), r);
            CHECK(PQtransactionStatus(app.get()) == PQTRANS_INERROR);
            CHECK(simple(app, "SELECT 1").sqlstate == "25P02");
            CHECK(simple(app, "COMMIT").tag == "ROLLBACK");
            check_usable(app);
        }
        {
            INFO("PQexecParams");
            check_refused(with_params(app, r.sql, {}), r);
            check_usable(app);
        }
        {
            INFO("PQprepare, then PQexecPrepared");
            Outcome o = prepare_now(app, "refused", r.sql);
            if (o.ok()) {
                o = execute_now(app, "refused", {});
                exec(app, "DEALLOCATE refused");
            }
            check_refused(o, r);
            check_usable(app);
        }
        CHECK(snapshot(direct) == before);
    }
}

TEST_CASE("refusals among other statements: one Query, parameters, pipeline mode") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    std::string before = snapshot(direct);

    // The statements before the refused one run, the ones after it do not.
    std::vector<PgResult> results = app.run(
        "UPDATE dinner_slot SET party = party WHERE id = 100001; TRUNCATE reservation; "
        "SELECT 'never' AS never",
        soon());
    REQUIRE(results.size() == 2);
    CHECK(std::string(PQcmdStatus(results[0].get())) == "UPDATE 1");
    CHECK(outcome_of(results[1].get()).sqlstate == "0A000");
    check_usable(app);

    // A refused statement with parameters: pgrev's error, not a Bind error about them.
    Outcome o =
        with_params(app, "UPDATE reservation_rev SET party = $1 WHERE id = $2", {"0", "100001"});
    CHECK_MESSAGE(o.sqlstate == "42501", o.describe());
    check_usable(app);

    // Pipeline mode: the refusal aborts the rest of its segment, the next segment runs.
    REQUIRE(PQenterPipelineMode(app.get()) == 1);
    REQUIRE(PQsendQueryParams(app.get(), "SELECT 1 AS one", 0, nullptr, nullptr, nullptr, nullptr,
                              0) == 1);
    REQUIRE(PQsendQueryParams(app.get(), "TRUNCATE reservation", 0, nullptr, nullptr, nullptr,
                              nullptr, 0) == 1);
    REQUIRE(PQsendQueryParams(app.get(), "DELETE FROM reservation WHERE id = 100001", 0, nullptr,
                              nullptr, nullptr, nullptr, 0) == 1);
    REQUIRE(PQpipelineSync(app.get()) == 1);
    REQUIRE(PQsendQueryParams(app.get(), "SELECT count(*) FROM reservation WHERE id = 100001", 0,
                              nullptr, nullptr, nullptr, nullptr, 0) == 1);
    REQUIRE(PQpipelineSync(app.get()) == 1);
    std::vector<std::string> statuses;
    std::vector<std::string> sqlstates;
    for (int item = 0; item < 6; ++item) {
        PgResult first = app.next_result(soon());
        REQUIRE_MESSAGE(first, "item " << item << " is missing");
        Outcome each = outcome_of(first.get());
        statuses.push_back(each.status);
        sqlstates.push_back(each.sqlstate);
        if (item == 4) CHECK(each.rows == std::vector<std::string>{"1"});
        if (PQresultStatus(first.get()) != PGRES_PIPELINE_SYNC) {
            while (PgResult rest = app.next_result(soon())) {
            }
        }
    }
    CHECK(statuses == std::vector<std::string>{"PGRES_TUPLES_OK", "PGRES_FATAL_ERROR",
                                               "PGRES_PIPELINE_ABORTED", "PGRES_PIPELINE_SYNC",
                                               "PGRES_TUPLES_OK", "PGRES_PIPELINE_SYNC"});
    CHECK(sqlstates[1] == "0A000");
    CHECK(PQexitPipelineMode(app.get()) == 1);
    check_usable(app);
    CHECK(snapshot(direct) == before);
}
