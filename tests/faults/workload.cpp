#include "workload.h"

#include <libpq-fe.h>
#include <sys/socket.h>

#include <csignal>

#include <deque>
#include <optional>
#include <sstream>
#include <thread>

#include "fault_support.h"
#include "pq_conn.h"

namespace pgrev::it::faults {

namespace {

constexpr std::size_t kKeptErrors = 5;

// What one statement answered.
struct StepResult {
    bool ok = false;
    bool broken = false;  // the connection is gone
    std::string tag;
    std::string error;
};

// One statement, with its values inlined (simple Query) or as parameters (extended protocol:
// Parse/Bind/Execute/Sync, the way most drivers send them).
struct Statement {
    std::string simple;
    std::string extended;
    std::vector<std::optional<std::string>> params;  // nullopt: NULL
};

StepResult run_step(PgConn& conn, const Statement& s, bool extended) {
    StepResult r;
    int sent = 0;
    if (extended) {
        std::vector<const char*> values;
        for (const std::optional<std::string>& p : s.params)
            values.push_back(p ? p->c_str() : nullptr);
        sent = PQsendQueryParams(conn.get(), s.extended.c_str(), static_cast<int>(values.size()),
                                 nullptr, values.data(), nullptr, nullptr, 0);
    } else {
        sent = PQsendQuery(conn.get(), s.simple.c_str());
    }
    if (sent == 0) {
        r.broken = PQstatus(conn.get()) == CONNECTION_BAD;
        r.error = conn.error_message();
        return r;
    }
    while (PgResult result = conn.next_result(patience())) {
        ExecStatusType status = PQresultStatus(result.get());
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            r.tag = PQcmdStatus(result.get());
        } else if (r.error.empty()) {
            r.error = PQresultErrorMessage(result.get());
            if (r.error.empty()) r.error = PQresStatus(status);
        }
    }
    r.broken = PQstatus(conn.get()) == CONNECTION_BAD;
    if (r.broken && r.error.empty()) r.error = conn.error_message();
    r.ok = !r.broken && r.error.empty();
    return r;
}

// Ends the connection the way a killed client does: no Terminate, the TCP connection just goes.
void vanish(std::optional<PgConn>& conn, const Vanish& how) {
    if (how.kill_process) raise(SIGKILL);
    shutdown(PQsocket(conn->get()), SHUT_RDWR);
    conn.reset();  // PQfinish's Terminate goes nowhere now
}

std::vector<Statement> statements_of(int client, int txn, std::optional<int> updated,
                                     std::optional<int> deleted) {
    const std::string c = std::to_string(client);
    const std::string t = std::to_string(txn);
    std::vector<Statement> list;
    list.push_back({"INSERT INTO fault_item (client, txn, k, val) SELECT " + c + ", " + t +
                        ", k, 0 FROM generate_series(1, " + std::to_string(kItems) + ") AS k",
                    "INSERT INTO fault_item (client, txn, k, val) SELECT $1, $2, k, 0 FROM "
                    "generate_series(1, " +
                        std::to_string(kItems) + ") AS k",
                    {c, t}});
    if (updated) {
        const std::string u = std::to_string(*updated);
        list.push_back(
            {"UPDATE fault_item SET val = " + t + " WHERE client = " + c + " AND txn = " + u,
             "UPDATE fault_item SET val = $1 WHERE client = $2 AND txn = $3",
             {t, c, u}});
    }
    if (deleted) {
        const std::string d = std::to_string(*deleted);
        list.push_back({"DELETE FROM fault_item WHERE client = " + c + " AND txn = " + d,
                        "DELETE FROM fault_item WHERE client = $1 AND txn = $2",
                        {c, d}});
    }
    const std::string u = updated ? std::to_string(*updated) : "NULL";
    const std::string d = deleted ? std::to_string(*deleted) : "NULL";
    list.push_back({"INSERT INTO fault_txn (client, txn, updated, deleted) VALUES (" + c + ", " +
                        t + ", " + u + ", " + d + ")",
                    "INSERT INTO fault_txn (client, txn, updated, deleted) VALUES ($1, $2, $3, $4)",
                    {c, t, updated ? std::optional(u) : std::nullopt,
                     deleted ? std::optional(d) : std::nullopt}});
    return list;
}

class Client {
  public:
    explicit Client(const ClientPlan& plan) : plan_(plan) { report_.client = plan.client; }

    ClientReport run() {
        try {
            while (plan_.keep_going()) {
                if (!conn_ && !connect()) continue;
                transaction(next_txn_++);
            }
        } catch (const TimeoutError& e) {
            report_.hang = e.what();
        }
        return report_;
    }

  private:
    bool connect() {
        PgConn::Attempt attempt = PgConn::try_connect(plan_.conninfo, patience());
        if (attempt.conn) {
            conn_.emplace(std::move(*attempt.conn));
            return true;
        }
        ++report_.connect_failures;
        keep_error("connect: " + attempt.error);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return false;
    }

    void transaction(int txn) {
        Vanish fate = plan_.vanish ? plan_.vanish(txn) : Vanish{};
        std::optional<int> updated;
        std::optional<int> deleted;
        if (!alive_.empty()) updated = alive_.back();
        if (alive_.size() >= 3) {
            // Never chosen again, whatever becomes of this transaction.
            deleted = alive_.front();
            alive_.pop_front();
        }
        plan_.record(txn, TxnState::Begun);
        if (!step({"BEGIN", "BEGIN", {}}, "BEGIN")) return;
        int writes = 0;
        for (const Statement& s : statements_of(plan_.client, txn, updated, deleted)) {
            if (!step(s, "")) return failed(txn);
            if (++writes == fate.after_write) return vanish(conn_, fate);
        }
        if (fate.after_write > 0)
            return vanish(conn_, fate);  // asked for more writes than there are
        plan_.record(txn, TxnState::CommitSent);
        if (fate.during_commit) {
            // PQsendQuery flushes the COMMIT to the socket before it returns.
            if (PQsendQuery(conn_->get(), "COMMIT") == 0) return lost();
            return vanish(conn_, fate);
        }
        StepResult commit = run_step(*conn_, {"COMMIT", "COMMIT", {}}, plan_.extended);
        if (commit.ok && commit.tag == "COMMIT") {
            plan_.record(txn, TxnState::Committed);
            ++report_.committed;
            alive_.push_back(txn);
        } else if (commit.ok) {
            plan_.record(txn, TxnState::RolledBack);
            note_unexpected("COMMIT answered " + commit.tag);
        } else {
            handle_error(commit, "COMMIT");
        }
    }

    // A statement inside the transaction; false when the transaction cannot go on.
    bool step(const Statement& s, const std::string& what) {
        StepResult r = run_step(*conn_, s, plan_.extended);
        if (r.ok) return true;
        handle_error(r, what.empty() ? s.simple : what);
        return false;
    }

    void failed(int txn) {
        if (!conn_) return;  // the session is gone: the server rolls the transaction back
        plan_.record(txn, TxnState::RolledBack);
        StepResult r = run_step(*conn_, {"ROLLBACK", "ROLLBACK", {}}, plan_.extended);
        if (!r.ok) handle_error(r, "ROLLBACK");
    }

    void handle_error(const StepResult& r, const std::string& what) {
        keep_error(what.substr(0, 60) + ": " + r.error);
        if (r.broken) return lost();
        // The connection is fine, so no fault explains the error.
        note_unexpected(what.substr(0, 120) + ": " + r.error);
    }

    void lost() {
        ++report_.sessions_lost;
        conn_.reset();
    }

    void note_unexpected(const std::string& text) {
        if (report_.unexpected.empty()) report_.unexpected = text;
    }

    void keep_error(const std::string& text) {
        if (report_.errors.size() < kKeptErrors) report_.errors.push_back(text);
    }

    const ClientPlan& plan_;
    ClientReport report_;
    std::optional<PgConn> conn_;
    std::deque<int> alive_;  // committed transactions whose rows no transaction deletes yet
    int next_txn_ = 1;
};

}  // namespace

const char* state_name(TxnState state) {
    switch (state) {
        case TxnState::Begun:
            return "begun";
        case TxnState::CommitSent:
            return "commit-sent";
        case TxnState::Committed:
            return "committed";
        case TxnState::RolledBack:
            return "rolled-back";
    }
    return "?";
}

ClientReport run_client(const ClientPlan& plan) {
    return Client(plan).run();
}

void Ledger::record(int client, int txn, TxnState state) {
    std::lock_guard lock(mutex_);
    states_[{client, txn}] = state;
}

std::map<std::pair<int, int>, TxnState> Ledger::snapshot() const {
    std::lock_guard lock(mutex_);
    return states_;
}

std::string ledger_line(int client, int txn, TxnState state) {
    return std::to_string(client) + " " + std::to_string(txn) + " " +
           std::to_string(static_cast<int>(state)) + "\n";
}

void Ledger::read_lines(const std::string& text) {
    std::size_t start = 0;
    for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
        std::istringstream line(text.substr(start, end - start));
        int client = 0;
        int txn = 0;
        int state = 0;
        if (line >> client >> txn >> state) record(client, txn, static_cast<TxnState>(state));
    }
}

}  // namespace pgrev::it::faults
