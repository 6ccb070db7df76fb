// The tables and their history against what the clients saw: every transaction a client saw
// commit is there with its revisions; one whose COMMIT was never sent, or was answered with
// ROLLBACK, left nothing; one whose connection died with COMMIT in flight is either wholly there
// or wholly absent. workload.h says what each transaction writes.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "pq_conn.h"
#include "workload.h"

namespace pgrev::it::faults {

struct LedgerVerdict {
    std::vector<std::string> problems;  // the first ones found, empty when none
    int committed = 0;                  // seen to commit, and there
    int in_doubt_there = 0;             // COMMIT in flight when the connection died: committed
    int in_doubt_absent = 0;            // ... rolled back
    int absent = 0;                     // never committed, and not there
    std::string summary() const;
};

LedgerVerdict check_against_ledger(PgConn& conn, const Ledger& ledger);

}  // namespace pgrev::it::faults

namespace pgrev::it::faults {

class RestartablePgrev;

// doctest checks of the end of a fault test, on the test's thread: no client hung or saw an
// error that no fault explains, each lost at least `min_sessions_lost` sessions.
void expect_clients_fine(const std::vector<ClientReport>& reports, int min_sessions_lost);
// Waits until the server has no session left of the clients (they are gone: the server has
// rolled back or committed what they left in flight); false at the deadline.
bool wait_for_client_sessions_gone(PgConn& direct, std::chrono::seconds timeout);
// The end of every fault test: the tables against the ledger, and the history against the
// tables (check_consistency).
LedgerVerdict expect_consistent(const RestartablePgrev& pgrev, const Ledger& ledger);

}  // namespace pgrev::it::faults
