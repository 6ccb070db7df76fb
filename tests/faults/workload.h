// The write load of the fault tests: clients that write audited tables through pgrev in
// transactions that describe themselves, and the ledger of what each client saw of each of
// its transactions.
//
// Transaction `txn` of client `client`, statement by statement:
//   BEGIN
//   INSERT INTO fault_item (client, txn, k, val) SELECT client, txn, k, 0 FROM 1..kItems
//   UPDATE fault_item SET val = txn WHERE client = ... AND txn = updated   (if any)
//   DELETE FROM fault_item WHERE client = ... AND txn = deleted            (if any)
//   INSERT INTO fault_txn (client, txn, updated, deleted)                  the marker
//   COMMIT
// `updated` and `deleted` are earlier transactions of the same client that it saw commit, so
// the marker row says what its transaction did, and the revisions of fault_item say which
// transaction made them (val is the updater; the key names the inserter and the deleted one).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace pgrev::it::faults {

constexpr int kItems = 3;  // rows each transaction inserts

// What a client knows about one of its transactions, in the order it learns it.
enum class TxnState {
    Begun,       // BEGIN may have been sent; COMMIT was not: the server must roll it back
    CommitSent,  // COMMIT was sent and not answered (the connection died): committed or not
    Committed,   // COMMIT answered with tag COMMIT
    RolledBack,  // the transaction failed (an error, COMMIT answered ROLLBACK)
};
const char* state_name(TxnState state);

// Where a client stops on purpose, to end its connection abruptly (shutdown() of its socket,
// no Terminate): after the n-th write of the transaction (1..4), or right after sending COMMIT.
// A client process may instead kill itself there (SIGKILL): a real kill at an exact moment.
struct Vanish {
    int after_write = 0;  // 0: not before COMMIT
    bool during_commit = false;
    bool kill_process = false;  // raise(SIGKILL) instead of shutdown()
};

struct ClientPlan {
    std::string conninfo;
    int client = 0;
    bool extended = false;  // PQexecParams (extended protocol) instead of simple Queries
    std::function<bool()> keep_going;
    std::function<Vanish(int txn)> vanish;  // empty: never on purpose
    std::function<void(int txn, TxnState state)> record;
};

// What went wrong for one client, besides what its transactions became.
struct ClientReport {
    int client = 0;
    int sessions_lost = 0;  // connections that broke under it (not the ones it ended itself)
    int connect_failures = 0;
    int committed = 0;
    std::string hang;                 // set when a wait ran into patience(): pgrev or server hangs
    std::string unexpected;           // an error no fault explains (e.g. a refused statement)
    std::vector<std::string> errors;  // a few of the errors it saw, for the test's output
};

// Runs transactions until keep_going() says stop (checked before each one) or a wait hangs.
ClientReport run_client(const ClientPlan& plan);

// Every client's transactions and what the client knows of each. Thread-safe.
class Ledger {
  public:
    void record(int client, int txn, TxnState state);
    // Lines "client txn state" as a killed client process writes them (a cut last line is
    // dropped: its event is lost, which only makes the ledger know less).
    void read_lines(const std::string& text);
    std::map<std::pair<int, int>, TxnState> snapshot() const;

  private:
    mutable std::mutex mutex_;
    std::map<std::pair<int, int>, TxnState> states_;
};

// The line record() of a client process writes for one event.
std::string ledger_line(int client, int txn, TxnState state);

}  // namespace pgrev::it::faults

namespace pgrev::it::faults {

// Client processes, for faults that need a client really killed (SIGKILL): runs
// run_client(plan) in a forked child (no threads may run in this process then) until it is
// killed, writing every event with ledger_line to `ledger_path` as it happens. A child that
// stops by itself (a hang) writes "hang: ..." there and exits with status 3.
pid_t fork_client(const ClientPlan& plan, const std::string& ledger_path);

// Clients on threads of this process, started at once; stop() (or the destructor) ends them
// after their current transaction and returns what each saw.
class ThreadedLoad {
  public:
    // Clients first_client .. first_client + clients - 1; every other one uses the extended
    // protocol. `vanish` (client, txn) as in ClientPlan.
    ThreadedLoad(const std::string& conninfo, int first_client, int clients, Ledger& ledger,
                 std::function<Vanish(int client, int txn)> vanish = {});
    ~ThreadedLoad();
    ThreadedLoad(const ThreadedLoad&) = delete;
    ThreadedLoad& operator=(const ThreadedLoad&) = delete;

    std::vector<int> committed() const;  // per client, so far
    // Waits until every client has committed more than `before` says; false at the deadline
    // or when a client has stopped.
    bool wait_for_progress(const std::vector<int>& before, std::chrono::seconds timeout) const;
    std::vector<ClientReport> stop();

  private:
    std::vector<ClientPlan> plans_;
    std::unique_ptr<std::atomic<int>[]> committed_;
    std::unique_ptr<std::atomic<bool>[]> finished_;
    std::atomic<bool> stopping_{false};
    std::vector<ClientReport> reports_;
    std::vector<std::thread> threads_;
};

}  // namespace pgrev::it::faults
