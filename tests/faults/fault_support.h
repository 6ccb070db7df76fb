// The fault tests' common parts: how long they run, the audited tables their clients write,
// a pgrev that can be SIGKILLed and started again on the same port, and the checks that run
// once the faults are over (the history against the tables, the tables against what the
// clients saw).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "child_process.h"
#include "pq_conn.h"
#include "test_env.h"

namespace pgrev::it::faults {

// The short form (CI) by default; PGREV_FAULTS_ROUNDS and PGREV_FAULTS_SECONDS make the long
// form (more faults of each kind, longer load between them).
struct FaultScale {
    int rounds = 2;             // faults of each kind per test
    double load_seconds = 1.5;  // write load before (and after) each fault
};
FaultScale fault_scale();

// Every wait on a server or on pgrev: longer than any restart takes, so that running into
// it means something hangs.
Deadline patience();

PgConn connect_direct();

// Drops and creates the audited tables (fault_item, fault_txn) and their _rev tables, and
// makes commits durable across an immediate shutdown (the cluster of the tests runs with
// synchronous_commit = off, which may lose a commit that was acknowledged: not pgrev's doing).
void create_schema();
constexpr const char* kAuditYaml = "{tables: [fault_item, fault_txn]}";

// pgrev on a port of its own that stays the same across restarts, so clients reconnect to
// the address they know. The log file collects every run.
class RestartablePgrev {
  public:
    explicit RestartablePgrev(const std::string& audit_yaml, const std::string& log_level = "info");
    ~RestartablePgrev();
    RestartablePgrev(const RestartablePgrev&) = delete;
    RestartablePgrev& operator=(const RestartablePgrev&) = delete;

    void start();      // waits until it listens (its log says so); throws with the log otherwise
    void kill_hard();  // SIGKILL, and reaps it
    int stop();        // SIGTERM (SIGKILL after 10 s); the exit status, -1 if it did not run
    bool needed_sigkill() const { return child_ && child_->needed_sigkill(); }
    bool running() { return child_ && child_->running(); }
    std::uint16_t port() const { return port_; }
    const std::string& config_path() const { return config_path_; }
    std::string conninfo() const;
    std::string log_tail() const;  // the last lines of the log, for failure messages

  private:
    std::uint16_t port_ = 0;
    std::string config_path_;
    std::string log_path_;
    std::optional<ChildProcess> child_;
};

// The log files of every RestartablePgrev so far, in order (printed under a failed test).
std::vector<std::string> pgrev_logs();

// `pgrev verify --config FILE` with pgrev's configuration (all its audited tables), run to
// completion.
CommandResult run_verify(const RestartablePgrev& pgrev);

// No committed change without its revision, no revision without its change: the check the
// tests end with. `pgrev verify` must exit 0, and a check of the tests' own in SQL (see
// check_history in fault_support.cpp, written independently of verify) must find nothing.
// Returns the discrepancies found, empty when none.
std::vector<std::string> check_consistency(const RestartablePgrev& pgrev);

}  // namespace pgrev::it::faults
