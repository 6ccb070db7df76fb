// Clients that end abruptly in the middle of a transaction on audited tables: processes killed
// with SIGKILL at random moments, and clients that shut their socket down after some writes or
// right after sending COMMIT. The server rolls back what had no COMMIT, commits or rolls back
// what had one in flight, and either way the transaction is wholly there, with its revisions,
// or wholly absent.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>

#include <random>
#include <thread>

#include "fault_support.h"
#include "ledger_check.h"

using namespace pgrev::it;
using namespace pgrev::it::faults;

namespace {

constexpr int kProcesses = 4;

void write_more(const RestartablePgrev& pgrev, Ledger& ledger, int first_client) {
    // After the faults, new sessions through the same pgrev write as before.
    ThreadedLoad after(pgrev.conninfo(), first_client, 2, ledger);
    CHECK(after.wait_for_progress({0, 0}, std::chrono::seconds(30)));
    expect_clients_fine(after.stop(), 0);
}

}  // namespace

TEST_CASE("client processes killed with SIGKILL while writing audited tables through pgrev") {
    FaultScale scale = fault_scale();
    create_schema();
    RestartablePgrev pgrev(kAuditYaml);
    std::mt19937 random(20261201);
    Ledger ledger;
    int next_client = 100;
    const int rounds = scale.rounds * 5;
    const int longest_ms = std::max(50, static_cast<int>(scale.load_seconds * 200));
    for (int round = 0; round < rounds; ++round) {
        CAPTURE(round);
        std::vector<std::pair<pid_t, std::string>> children;
        std::vector<pid_t> killed_by_test;
        // No other thread of this process runs now, so the forked children inherit no lock.
        for (int i = 0; i < kProcesses; ++i) {
            ClientPlan plan;
            plan.conninfo = pgrev.conninfo();
            plan.client = next_client++;
            plan.extended = i % 2 == 1;
            // Two of the four kill themselves at an exact moment of transaction `at`: with its
            // COMMIT in flight, or after its second write; the test kills the others.
            int at = std::uniform_int_distribution<int>(2, 8)(random);
            if (i == 1 || i == 2) {
                bool in_commit = i == 1;
                plan.vanish = [at, in_commit](int txn) {
                    Vanish v;
                    if (txn != at) return v;
                    v.kill_process = true;
                    v.during_commit = in_commit;
                    v.after_write = in_commit ? 0 : 2;
                    return v;
                };
            }
            std::string path =
                TestEnv::get().cluster().dir() + "/fault-ledger-" + std::to_string(plan.client);
            pid_t pid = fork_client(plan, path);
            REQUIRE(pid > 0);
            children.emplace_back(pid, path);
            if (!plan.vanish) killed_by_test.push_back(pid);
        }
        // Each is killed at its own moment, most of the time in the middle of a transaction.
        std::uniform_int_distribution<int> pause(20, longest_ms);
        for (pid_t pid : killed_by_test) {
            std::this_thread::sleep_for(std::chrono::milliseconds(pause(random)));
            kill(pid, SIGKILL);
        }
        for (const auto& [pid, path] : children) {
            int status = 0;
            REQUIRE(waitpid(pid, &status, 0) == pid);
            std::string lines = read_file(path);
            CHECK_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL),
                          "the client process ended by itself:\n"
                              << lines);
            ledger.read_lines(lines);
        }
    }
    PgConn direct = connect_direct();
    CHECK_MESSAGE(wait_for_client_sessions_gone(direct, std::chrono::seconds(30)),
                  "sessions of killed clients still open after 30 s");
    write_more(pgrev, ledger, next_client);
    LedgerVerdict verdict = expect_consistent(pgrev, ledger);
    CHECK(verdict.committed > 0);
    CHECK(verdict.in_doubt_there + verdict.in_doubt_absent >= rounds);  // the self-kills
    CHECK(pgrev.running());
}

TEST_CASE("clients that vanish after audited writes, or with COMMIT in flight, through pgrev") {
    FaultScale scale = fault_scale();
    create_schema();
    RestartablePgrev pgrev(kAuditYaml);
    // Out of every six transactions of a client: one vanishes after its first write, one after
    // its second, one after its last (the marker) and one right after sending COMMIT.
    auto vanish = [](int, int txn) {
        Vanish v;
        switch (txn % 6) {
            case 1:
                v.after_write = 1;
                break;
            case 2:
                v.after_write = 2;
                break;
            case 3:
                v.after_write = 4;
                break;
            case 4:
                v.during_commit = true;
                break;
            default:
                break;
        }
        return v;
    };
    Ledger ledger;
    {
        ThreadedLoad load(pgrev.conninfo(), 200, 4, ledger, vanish);
        std::this_thread::sleep_for(
            std::chrono::milliseconds(static_cast<int>(scale.load_seconds * scale.rounds * 1000)));
        expect_clients_fine(load.stop(), 0);
    }
    write_more(pgrev, ledger, 300);
    LedgerVerdict verdict = expect_consistent(pgrev, ledger);
    // Vanishing before COMMIT happened, and left nothing (else the check above says so).
    CHECK(verdict.absent > 0);
    CHECK(verdict.in_doubt_there + verdict.in_doubt_absent > 0);
    CHECK(pgrev.running());
}
