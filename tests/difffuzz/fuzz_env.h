// The fuzzer's own PostgreSQL 15 (the integration harness's PgCluster) with the databases
// direct_db (the model: row triggers write the revisions) and proxied_db (audited by the pgrev
// this class starts), and direct admin connections to both for snapshots.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "pg_cluster.h"
#include "pgrev_process.h"
#include "pq_conn.h"
#include "runner.h"

namespace pgrev::difffuzz {

class FuzzEnv {
  public:
    FuzzEnv();
    ~FuzzEnv();

    // New databases from the schema, and a new pgrev in front of them (after DDL, or for a
    // deterministic replay: pgrev's plan cache and catalog start empty).
    void fresh_databases();
    // The starting rows in both databases, no revisions; pgrev keeps running.
    void reset_rows();

    std::string direct_conninfo() const;   // the session to direct_db
    std::string proxied_conninfo() const;  // the session to proxied_db, through pgrev
    // Every table and revision table of one database, read over a direct connection.
    std::string snapshot(bool proxied);
    TypeNames& types(bool proxied) { return proxied ? *proxied_types_ : *direct_types_; }
    std::string pgrev_log() const;
    std::string server_log() const { return cluster_->log_text(); }
    bool pgrev_running() { return pgrev_ && pgrev_->running(); }

  private:
    std::string db_conninfo(const std::string& db) const;
    it::PgConn& admin(bool proxied);

    std::unique_ptr<it::PgCluster> cluster_;
    bool created_ = false;
    std::unique_ptr<it::PgrevProcess> pgrev_;
    std::optional<it::PgConn> direct_admin_;
    std::optional<it::PgConn> proxied_admin_;
    std::unique_ptr<TypeNames> direct_types_;
    std::unique_ptr<TypeNames> proxied_types_;
};

}  // namespace pgrev::difffuzz
