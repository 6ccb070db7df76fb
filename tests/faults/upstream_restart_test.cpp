// PostgreSQL restarted under pgrev while clients write audited tables: each client gets an
// error for the session it loses (never a hang), new sessions through the same pgrev work
// once the server is back, and nothing committed lacks its revision (nor the reverse).
#include <doctest/doctest.h>

#include <signal.h>

#include <memory>
#include <thread>

#include "fault_support.h"
#include "ledger_check.h"

using namespace pgrev::it;
using namespace pgrev::it::faults;

namespace {

constexpr int kClients = 4;

void load_for(double seconds) {
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(seconds * 1000)));
}

}  // namespace

TEST_CASE("PostgreSQL restarted (fast and immediate) under audited write load through pgrev") {
    FaultScale scale = fault_scale();
    create_schema();
    RestartablePgrev pgrev(kAuditYaml);
    Ledger ledger;
    ThreadedLoad load(pgrev.conninfo(), 1, kClients, ledger);
    load_for(scale.load_seconds);
    int faults = 0;
    for (int round = 0; round < scale.rounds; ++round) {
        // pg_ctl's -m fast (SIGINT: sessions end, checkpoint) and -m immediate (SIGQUIT:
        // sessions end at once, crash recovery at the next start).
        for (int signal_number : {SIGINT, SIGQUIT}) {
            CAPTURE(round);
            CAPTURE(signal_number);
            REQUIRE(
                load.wait_for_progress(std::vector<int>(kClients, 0), std::chrono::seconds(30)));
            TestEnv::get().cluster().restart(signal_number);
            ++faults;
            // Every session open before the restart is gone: what commits now, commits on a
            // session opened through the same pgrev afterwards.
            std::vector<int> before = load.committed();
            PgConn fresh = PgConn::connect(pgrev.conninfo(), patience());
            CHECK(fresh.value("SELECT 'pgrev serves again'", patience()) == "pgrev serves again");
            CHECK_MESSAGE(load.wait_for_progress(before, std::chrono::seconds(30)),
                          "not every client commits again within 30 s of the restart");
            load_for(scale.load_seconds);
        }
    }
    std::vector<ClientReport> reports = load.stop();
    CHECK(pgrev.running());
    expect_clients_fine(reports, faults);
    expect_consistent(pgrev, ledger);
}

TEST_CASE("pgrev started while PostgreSQL is down audits the writes once PostgreSQL is up") {
    FaultScale scale = fault_scale();
    create_schema();  // the revision tables do not exist: pgrev must create them when it can
    std::unique_ptr<RestartablePgrev> pgrev;
    std::string refusal;
    TestEnv::get().cluster().restart(SIGINT, [&] {
        pgrev = std::make_unique<RestartablePgrev>(kAuditYaml);
        // Meanwhile a client is told at once that there is no server, and does not wait.
        PgConn::Attempt attempt = PgConn::try_connect(pgrev->conninfo(), patience());
        CHECK_FALSE(attempt.conn);
        refusal = attempt.error;
    });
    CHECK_MESSAGE(refusal.find("cannot connect to the PostgreSQL server") != std::string::npos,
                  refusal);
    Ledger ledger;
    {
        ThreadedLoad load(pgrev->conninfo(), 1, kClients, ledger);
        CHECK(load.wait_for_progress(std::vector<int>(kClients, 0), std::chrono::seconds(30)));
        load_for(scale.load_seconds);
        expect_clients_fine(load.stop(), 0);
    }
    expect_consistent(*pgrev, ledger);
}
