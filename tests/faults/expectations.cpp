#include <doctest/doctest.h>

#include <thread>

#include "fault_support.h"
#include "ledger_check.h"

namespace pgrev::it::faults {

void expect_clients_fine(const std::vector<ClientReport>& reports, int min_sessions_lost) {
    for (const ClientReport& r : reports) {
        CAPTURE(r.client);
        std::string seen;
        for (const std::string& e : r.errors)
            seen += "\n  " + e;
        INFO("first errors the client saw:" << seen);
        CHECK_MESSAGE(r.hang.empty(), "a wait of the client hung: " << r.hang);
        CHECK_MESSAGE(r.unexpected.empty(), "an error no fault explains: " << r.unexpected);
        CHECK(r.sessions_lost >= min_sessions_lost);
        CHECK(r.committed > 0);
    }
}

bool wait_for_client_sessions_gone(PgConn& direct, std::chrono::seconds timeout) {
    Deadline deadline = deadline_in(timeout);
    for (;;) {
        std::string left = direct.value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
            "'pgrev-fault-client'",
            patience());
        if (left == "0") return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

LedgerVerdict expect_consistent(const RestartablePgrev& pgrev, const Ledger& ledger) {
    PgConn direct = connect_direct();
    LedgerVerdict verdict;
    REQUIRE_MESSAGE(wait_for_client_sessions_gone(direct, std::chrono::seconds(30)),
                    "sessions of the clients still open 30 s after they ended");
    verdict = check_against_ledger(direct, ledger);
    MESSAGE("transactions: " << verdict.summary());
    std::string problems;
    for (const std::string& p : verdict.problems)
        problems += "\n  " + p;
    CHECK_MESSAGE(verdict.problems.empty(), "against what the clients saw:" << problems);
    CHECK(verdict.committed > 0);
    std::vector<std::string> history = check_consistency(pgrev);
    std::string found;
    for (const std::string& h : history)
        found += "\n  " + h;
    CHECK_MESSAGE(history.empty(), "history against the tables:" << found);
    return verdict;
}

}  // namespace pgrev::it::faults
