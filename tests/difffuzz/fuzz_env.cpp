#include "fuzz_env.h"

#include <stdexcept>

#include "schema.h"

namespace pgrev::difffuzz {

using it::PgConn;

namespace {

it::Deadline setup_deadline() {
    return it::deadline_in(std::chrono::seconds(60));
}

void exec_all(PgConn& c, const std::string& sql) {
    for (const it::PgResult& r : c.run(sql, setup_deadline())) {
        ExecStatusType s = PQresultStatus(r.get());
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            throw std::runtime_error(
                "setup SQL failed: " + std::string(PQresultErrorMessage(r.get())) + "in:\n" +
                sql.substr(0, 2000));
        }
    }
}

}  // namespace

FuzzEnv::FuzzEnv() : cluster_(it::PgCluster::start()) {
    fresh_databases();
}

FuzzEnv::~FuzzEnv() {
    direct_admin_.reset();
    proxied_admin_.reset();
    pgrev_.reset();
    cluster_.reset();
}

std::string FuzzEnv::db_conninfo(const std::string& db) const {
    return cluster_->conninfo("postgres", db);
}

std::string FuzzEnv::direct_conninfo() const {
    return db_conninfo("direct_db");
}

std::string FuzzEnv::proxied_conninfo() const {
    return "host=127.0.0.1 port=" + std::to_string(pgrev_->port()) +
           " user=postgres dbname=proxied_db";
}

void FuzzEnv::fresh_databases() {
    direct_admin_.reset();
    proxied_admin_.reset();
    pgrev_.reset();   // stops it
    if (!created_) {  // once: dropping and creating databases takes seconds
        PgConn postgres = PgConn::connect(db_conninfo("postgres"), setup_deadline());
        for (const char* db : {"direct_db", "proxied_db"}) {
            exec_all(postgres, std::string("DROP DATABASE IF EXISTS ") + db + " WITH (FORCE)");
            exec_all(postgres, std::string("CREATE DATABASE ") + db);
        }
        created_ = true;
    }
    {
        PgConn direct = PgConn::connect(direct_conninfo(), setup_deadline());
        exec_all(direct, drop_schema_sql());
        exec_all(direct, schema_sql());
        exec_all(direct, model_sql());
        PgConn proxied = PgConn::connect(db_conninfo("proxied_db"), setup_deadline());
        exec_all(proxied, drop_schema_sql());
        exec_all(proxied, schema_sql());
    }
    it::PgrevOptions options;
    options.upstream_port = cluster_->port();
    options.work_dir = cluster_->dir();
    options.audit = audit_yaml();
    pgrev_ = std::make_unique<it::PgrevProcess>(options);
    direct_types_ = std::make_unique<TypeNames>(direct_conninfo());
    proxied_types_ = std::make_unique<TypeNames>(db_conninfo("proxied_db"));
    reset_rows();
}

PgConn& FuzzEnv::admin(bool proxied) {
    std::optional<PgConn>& conn = proxied ? proxied_admin_ : direct_admin_;
    if (!conn || !conn->ok()) {
        conn.reset();
        conn.emplace(PgConn::connect(proxied ? db_conninfo("proxied_db") : direct_conninfo(),
                                     setup_deadline()));
    }
    return *conn;
}

void FuzzEnv::reset_rows() {
    exec_all(admin(false), reset_rows_sql());
    exec_all(admin(true), reset_rows_sql());
}

std::string FuzzEnv::snapshot(bool proxied) {
    try {
        return admin(proxied).value("SELECT fuzz_snapshot()", setup_deadline());
    } catch (const std::exception& e) {
        return std::string("snapshot failed: ") + e.what();
    }
}

std::string FuzzEnv::pgrev_log() const {
    return pgrev_ ? pgrev_->log_text() : "";
}

}  // namespace pgrev::difffuzz
