// The libpq side of `pgrev verify` and `pgrev baseline`: the admin connection to one
// database, what the catalog says of an audited table, and queries whose rows are streamed
// (single-row mode) while a progress line runs on a terminal. Blocking: these commands run
// alone, outside the proxy.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "audit/catalog.h"
#include "config/config.h"

namespace pgrev::server {

// What stops a check: no connection, a query that failed, a revision table missing.
class CheckFailed : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// An audited table as the catalog has it, to check.
struct CheckedTable {
    audit::AuditedTableInfo info;
    double estimate = -1;  // pg_class.reltuples of its leaves; negative when never analysed
    std::string problem;   // why its history cannot be checked (no revision table, ...)
};

// "checking app.public.t (~1000 rows) 12 s" on standard error, rewritten every second while
// a query runs, when standard error is a terminal; nothing otherwise.
class Progress {
  public:
    explicit Progress(std::string label);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    void tick(long found);  // redraws at most once a second
    void clear();           // before printing anything else

  private:
    std::string label_;
    bool terminal_;
    bool shown_ = false;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point drawn_;
};

class HistoryConnection {
  public:
    // Connects as config.admin (admin_conninfo: its password_env and tls.upstream), with no
    // statement timeout: a check of a large table takes as long as it takes.
    HistoryConnection(const config::Config& config, const std::string& database);

    void exec(const std::string& sql);
    // Rows changed by a command (PQcmdTuples).
    long exec_count(const std::string& sql);
    // Nothing when the table is not in this database.
    std::optional<CheckedTable> read_table(const config::AuditedTable& table);
    // Runs `sql`, handing each row to `on_row` as it arrives; `progress` ticks meanwhile.
    void stream(const std::string& sql, Progress& progress,
                const std::function<void(const PGresult*)>& on_row);

  private:
    struct Closer {
        void operator()(PGconn* c) const { PQfinish(c); }
    };
    std::unique_ptr<PGconn, Closer> conn_;
    std::string database_;
};

}  // namespace pgrev::server
