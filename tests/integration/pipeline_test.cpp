// libpq pipeline mode: many extended-protocol commands sent before any result is read,
// Syncs in between, an error that aborts the rest of its pipeline segment. The proxy must
// pair every result with its command exactly as the server does (protocol/result_queue.h).
#include <doctest/doctest.h>

#include <string>

#include "differential.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(10));
}

void send_params(PgConn& c, Transcript& t, const std::string& sql,
                 const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& p : params)
        values.push_back(p.c_str());
    if (!PQsendQueryParams(c.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0)) {
        t.note("send failed: " + c.error_message());
    }
}

// Reads `items` pipeline items: a command's results up to its terminating NULL, or one
// PGRES_PIPELINE_SYNC.
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

}  // namespace

TEST_CASE("a pipeline with an error in the middle gives the same results through pgrev") {
    expect_transparent("pipeline mode", [](PgConn& c, Transcript& t) {
        REQUIRE(PQenterPipelineMode(c.get()) == 1);
        send_params(c, t, "SELECT $1::int + 1 AS next", {"41"});
        send_params(c, t, "CREATE TEMP TABLE pipe_t (v int)");
        send_params(c, t, "INSERT INTO pipe_t SELECT g FROM generate_series(1, 3) g");
        send_params(c, t, "SELECT 1 / $1::int", {"0"});
        send_params(c, t, "SELECT 'skipped after the error'");
        Oid int4[] = {23};
        if (!PQsendPrepare(c.get(), "pipe_stmt", "SELECT $1::int * 10 AS tenfold", 1, int4)) {
            t.note("prepare failed to send");
        }
        PQpipelineSync(c.get());
        // A new segment after the Sync: the error above does not affect it.
        send_params(c, t, "SELECT count(*) FROM pg_class WHERE relname = 'pipe_t'");
        if (!PQsendPrepare(c.get(), "pipe_stmt", "SELECT $1::int * 10 AS tenfold", 1, int4)) {
            t.note("prepare failed to send");
        }
        const char* seven[] = {"7"};
        PQsendQueryPrepared(c.get(), "pipe_stmt", 1, seven, nullptr, nullptr, 0);
        PQsendDescribePrepared(c.get(), "pipe_stmt");
        send_params(c, t, "SELEC broken");
        PQpipelineSync(c.get());
        send_params(c, t, "SELECT 'last' AS word");
        PQpipelineSync(c.get());
        read_pipeline(c, t, 15);
        t.note(std::string("pipeline status ") +
               (PQpipelineStatus(c.get()) == PQ_PIPELINE_ON ? "on" : "other"));
        t.note(std::string("exit pipeline mode: ") +
               (PQexitPipelineMode(c.get()) ? "ok" : c.error_message()));
        t.query("SELECT 'normal mode again' AS mode", soon());
    });
}

TEST_CASE("a long pipeline of 300 commands stays in step through pgrev") {
    expect_transparent("long pipeline", [](PgConn& c, Transcript& t) {
        REQUIRE(PQenterPipelineMode(c.get()) == 1);
        int items = 0;
        for (int i = 0; i < 300; ++i) {
            if (i % 50 == 49) {
                send_params(c, t, "SELECT 1 / 0");  // aborts the rest of this segment
            } else {
                send_params(c, t, "SELECT $1::int AS i, repeat('p', $1::int % 100) AS pad",
                            {std::to_string(i)});
            }
            ++items;
            if (i % 20 == 19) {
                PQpipelineSync(c.get());
                ++items;
            }
        }
        PQpipelineSync(c.get());
        ++items;
        read_pipeline(c, t, items);
        t.note(std::string("exit pipeline mode: ") + (PQexitPipelineMode(c.get()) ? "ok" : "no"));
    });
}

TEST_CASE("a transaction spanning pipeline segments rolls back the same way through pgrev") {
    expect_transparent("pipeline with BEGIN/ROLLBACK", [](PgConn& c, Transcript& t) {
        t.query("CREATE TEMP TABLE pipe_tx (v int)", soon());
        REQUIRE(PQenterPipelineMode(c.get()) == 1);
        send_params(c, t, "BEGIN");
        send_params(c, t, "INSERT INTO pipe_tx VALUES ($1::int)", {"1"});
        PQpipelineSync(c.get());
        send_params(c, t, "INSERT INTO pipe_tx VALUES ($1::int)", {"x"});
        send_params(c, t, "INSERT INTO pipe_tx VALUES (2)");
        PQpipelineSync(c.get());
        send_params(c, t, "ROLLBACK");
        send_params(c, t, "SELECT count(*) FROM pipe_tx");
        PQpipelineSync(c.get());
        read_pipeline(c, t, 9);
        t.transaction_status();
        PQexitPipelineMode(c.get());
    });
}
