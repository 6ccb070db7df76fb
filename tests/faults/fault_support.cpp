#include "fault_support.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "raw_client.h"

namespace pgrev::it::faults {

namespace {

double env_number(const char* name, double fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') return fallback;
    try {
        return std::stod(text);
    } catch (const std::exception&) {
        throw std::runtime_error(std::string(name) + " is not a number: " + text);
    }
}

std::mutex logs_mutex;
std::vector<std::string> logs;

std::size_t count_of(const std::string& text, const std::string& word) {
    std::size_t n = 0;
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
        ++n;
    return n;
}

std::string joined(const std::vector<std::string>& names, const std::string& prefix) {
    std::string text;
    for (const std::string& n : names)
        text += (text.empty() ? "" : ", ") + prefix + n;
    return text;
}

// The history of one audited table against the table: the latest revision of every key (by
// rev_created, then by position, for revisions of the same instant) equals the current row,
// every current row has a revision, and a key whose latest revision is a delete is absent.
// One set-based query; returns the first discrepancies.
std::vector<std::string> check_history(PgConn& conn, const std::string& table,
                                       const std::vector<std::string>& keys,
                                       const std::vector<std::string>& values) {
    const std::string k = joined(keys, "");
    std::string on;
    std::string key_text;  // from whichever side has the key
    for (const std::string& key : keys) {
        on += (on.empty() ? "" : " AND ") + ("l." + key + " = t." + key);
        key_text += (key_text.empty() ? "" : ", ") + ("coalesce(l." + key + ", t." + key + ")");
    }
    const std::string present = "t." + keys[0] + " IS NOT NULL";
    const std::string sql = "SELECT key, problem FROM (SELECT concat_ws(',', " + key_text +
                            ") AS key, CASE"
                            " WHEN l.rev_isdelete IS NULL THEN 'a row without any revision'"
                            " WHEN l.rev_isdelete AND " +
                            present +
                            " THEN 'the latest revision is a delete, but the row exists'"
                            " WHEN NOT l.rev_isdelete AND NOT " +
                            present +
                            " THEN 'the latest revision is not a delete, but there is no row'"
                            " WHEN NOT l.rev_isdelete AND ROW(" +
                            joined(values, "l.") + ") IS DISTINCT FROM ROW(" +
                            joined(values, "t.") +
                            ") THEN 'the latest revision differs from the row' END AS problem"
                            " FROM (SELECT DISTINCT ON (" +
                            k + ") * FROM " + table + "_rev ORDER BY " + k +
                            ", rev_created DESC, ctid DESC) AS l FULL JOIN " + table + " AS t ON " +
                            on + ") AS c WHERE problem IS NOT NULL ORDER BY key LIMIT 20";
    PgResult result = conn.run_one(sql, patience());
    std::vector<std::string> problems;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
        problems.push_back(table + " key (" + PQgetvalue(result.get(), r, 0) +
                           "): " + PQgetvalue(result.get(), r, 1));
    }
    return problems;
}

}  // namespace

FaultScale fault_scale() {
    FaultScale scale;
    scale.rounds = static_cast<int>(env_number("PGREV_FAULTS_ROUNDS", scale.rounds));
    scale.load_seconds = env_number("PGREV_FAULTS_SECONDS", scale.load_seconds);
    return scale;
}

Deadline patience() {
    return deadline_in(std::chrono::seconds(30));
}

PgConn connect_direct() {
    return PgConn::connect(TestEnv::get().direct(), patience());
}

void create_schema() {
    PgConn conn = connect_direct();
    conn.run("DROP TABLE IF EXISTS fault_item, fault_item_rev, fault_txn, fault_txn_rev",
             patience());
    conn.run_one(
        "CREATE TABLE fault_item (client int, txn int, k int, val int NOT NULL, "
        "PRIMARY KEY (client, txn, k))",
        patience(), PGRES_COMMAND_OK);
    conn.run_one(
        "CREATE TABLE fault_txn (client int, txn int, updated int, deleted int, "
        "PRIMARY KEY (client, txn))",
        patience(), PGRES_COMMAND_OK);
    conn.run_one("ALTER DATABASE app SET synchronous_commit = on", patience(), PGRES_COMMAND_OK);
}

RestartablePgrev::RestartablePgrev(const std::string& audit_yaml, const std::string& log_level) {
    static std::atomic<int> instances{0};
    TestEnv& env = TestEnv::get();
    PgrevOptions options = env.pgrev_options();
    options.audit = audit_yaml;
    options.log_level = log_level;
    port_ = free_tcp_port();
    std::string name = env.cluster().dir() + "/pgrev-faults-" + std::to_string(++instances);
    config_path_ = name + ".yaml";
    log_path_ = name + ".log";
    {
        std::lock_guard lock(logs_mutex);
        logs.push_back(log_path_);
    }
    write_file(config_path_, pgrev_config_yaml(options, port_));
    start();
}

RestartablePgrev::~RestartablePgrev() {
    stop();
}

void RestartablePgrev::start() {
    if (running()) throw std::logic_error("pgrev runs already");
    std::size_t listening_before = count_of(read_file(log_path_), "pgrev listening on");
    SpawnOptions spawn;
    spawn.argv = {pgrev_binary(), "--config", config_path_};
    spawn.stdout_path = log_path_;  // appended to: one log for every run
    spawn.stderr_path = log_path_;
    spawn.signal_on_parent_death = SIGKILL;
    child_.emplace(ChildProcess::spawn(spawn));
    Deadline deadline = deadline_in(std::chrono::seconds(15));
    while (count_of(read_file(log_path_), "pgrev listening on") == listening_before ||
           !wait_until_accepting(port_, deadline_in(std::chrono::milliseconds(100)))) {
        if (!child_->running() || Clock::now() >= deadline) {
            std::string why = child_->running() ? "does not listen after 15 s" : "exited";
            child_->stop(SIGKILL, std::chrono::seconds(5));
            throw std::runtime_error("pgrev " + why + "\n--- log ---\n" + log_tail());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

void RestartablePgrev::kill_hard() {
    if (child_) child_->stop(SIGKILL, std::chrono::seconds(5));
}

int RestartablePgrev::stop() {
    if (!child_ || !child_->running()) return -1;
    return child_->stop(SIGTERM, std::chrono::seconds(10));
}

std::string RestartablePgrev::conninfo() const {
    return TestEnv::get().via_port(port_, "postgres", "app",
                                   "application_name=pgrev-fault-client connect_timeout=10");
}

std::string RestartablePgrev::log_tail() const {
    std::string text = read_file(log_path_);
    constexpr std::size_t kTail = 6000;
    return text.size() > kTail ? "..." + text.substr(text.size() - kTail) : text;
}

std::vector<std::string> pgrev_logs() {
    std::lock_guard lock(logs_mutex);
    return logs;
}

CommandResult run_verify(const RestartablePgrev& pgrev) {
    return run_command({pgrev_binary(), "verify", "--config", pgrev.config_path()}, {},
                       std::chrono::seconds(120));
}

std::vector<std::string> check_consistency(const RestartablePgrev& pgrev) {
    std::vector<std::string> problems;
    CommandResult verify = run_verify(pgrev);
    if (verify.exit_status != 0) problems.push_back("pgrev verify: " + verify.describe());
    PgConn conn = connect_direct();
    for (auto history :
         {check_history(conn, "fault_item", {"client", "txn", "k"}, {"val"}),
          check_history(conn, "fault_txn", {"client", "txn"}, {"updated", "deleted"})}) {
        problems.insert(problems.end(), history.begin(), history.end());
    }
    return problems;
}

}  // namespace pgrev::it::faults
