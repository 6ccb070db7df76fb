// pgrev SIGKILLed (or stopped with SIGTERM) while clients write audited tables through it, and
// started again on the same port: the clients see their connections drop (an error, never a hang),
// the server ends the sessions pgrev left (rolling back what had no COMMIT), writes work once pgrev
// is back, and the history matches the tables.
#include <doctest/doctest.h>

#include <thread>

#include "fault_support.h"
#include "ledger_check.h"

using namespace pgrev::it;
using namespace pgrev::it::faults;

namespace {

constexpr int kClients = 4;

}  // namespace

TEST_CASE(
    "pgrev killed with SIGKILL, or stopped with SIGTERM, under audited write load and restarted") {
    FaultScale scale = fault_scale();
    create_schema();
    RestartablePgrev pgrev(kAuditYaml);
    PgConn direct = connect_direct();
    Ledger ledger;
    ThreadedLoad load(pgrev.conninfo(), 1, kClients, ledger);
    auto load_ms = std::chrono::milliseconds(static_cast<int>(scale.load_seconds * 1000));
    int kills = 0;
    for (int round = 0; round < scale.rounds * 2; ++round) {
        CAPTURE(round);
        std::vector<int> before = load.committed();
        REQUIRE(load.wait_for_progress(before, std::chrono::seconds(30)));
        std::this_thread::sleep_for(load_ms);
        if (round % 2 == 0) {
            pgrev.kill_hard();
        } else {
            // A stop on SIGTERM does not wait for the sessions: it ends them, at once.
            int status = pgrev.stop();
            CHECK_MESSAGE(!pgrev.needed_sigkill(), "pgrev ignored SIGTERM under load for 10 s");
            CHECK(status == 0);
        }
        ++kills;
        // The kernel closed pgrev's upstream connections: the server ends those sessions.
        CHECK_MESSAGE(wait_for_client_sessions_gone(direct, std::chrono::seconds(30)),
                      "sessions of the killed pgrev still open after 30 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // clients find no pgrev
        pgrev.start();
        before = load.committed();
        CHECK_MESSAGE(load.wait_for_progress(before, std::chrono::seconds(30)),
                      "not every client commits again within 30 s of pgrev's restart");
    }
    std::this_thread::sleep_for(load_ms);
    std::vector<ClientReport> reports = load.stop();
    expect_clients_fine(reports, kills);
    expect_consistent(pgrev, ledger);
}
