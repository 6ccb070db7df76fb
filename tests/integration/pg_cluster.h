// A private PostgreSQL (15, or another version with PGREV_TEST_PG_ROOT) for one test run: initdb
// into a temp dir, a free port, the authentication methods pgrev must pass through (trust, md5,
// SCRAM-SHA-256), a database `app` and the roles the tests log in as. Stopped and removed on
// destruction.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "child_process.h"
#include "tls_certs.h"

namespace pgrev::it {

// Roles created in the cluster, with their passwords.
struct TestRoles {
    static constexpr const char* kSuperuser = "postgres";  // trust over TCP
    static constexpr const char* kScramUser = "scramuser";
    static constexpr const char* kScramPassword = "scram-secret";
    static constexpr const char* kMd5User = "md5user";
    static constexpr const char* kMd5Password = "md5-secret";
    static constexpr const char* kDatabase = "app";

    // The right password for a role, empty for trust.
    static std::string password_for(const std::string& user);
};

struct PgClusterOptions {
    // ssl = on with certificates made for the run (tls_certs.h), in dir()/tls.
    bool tls = false;
    // With tls: ssl_ca_file = the client CA, so hba method `cert` can check client certificates.
    bool client_certificates = false;
    // The whole pg_hba.conf; empty: trust for postgres, md5 for md5user, SCRAM for the rest,
    // all over TCP with or without TLS.
    std::string hba_conf;
};

class PgCluster {
  public:
    // Throws std::runtime_error (with the server log) when the cluster cannot start.
    static std::unique_ptr<PgCluster> start(const PgClusterOptions& options = {});
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    std::uint16_t port() const { return port_; }
    // The temp dir: data directory, Unix socket, logs; pgrev's files go here too.
    const std::string& dir() const { return dir_; }
    std::string log_text() const;
    // "host=127.0.0.1 port=... user=... dbname=..." plus the role's password.
    std::string conninfo(const std::string& user, const std::string& database) const;
    const std::optional<RunAs>& run_as() const { return run_as_; }
    // The certificates of a cluster started with options.tls (throws otherwise).
    const TlsCertificates& certificates() const;
    // What `pg_ctl restart -m fast|immediate` does, for the fault tests: stops the postmaster
    // with `shutdown_signal` (SIGINT: fast, SIGQUIT: immediate, i.e. crash recovery at the
    // next start) and starts it again on the same port and data directory; `while_down` runs
    // in between.
    void restart(int shutdown_signal, const std::function<void()>& while_down = {});

  private:
    PgCluster() = default;
    void init_data_directory();
    void start_server();
    void create_roles_and_database();
    void stop();

    std::string dir_;
    std::string data_dir_;
    std::string log_path_;
    std::uint16_t port_ = 0;
    std::optional<RunAs> run_as_;
    PgClusterOptions options_;
    std::optional<TlsCertificates> certificates_;
    std::optional<ChildProcess> postmaster_;
};

std::string pg_bindir();  // PGREV_TEST_PG_BINDIR, else the PostgreSQL 15 of Debian
// PGREV_TEST_PG_ROOT: a Debian root (scripts/pg-roots.sh) that initdb and postgres run in,
// pg_bindir() being their directory inside it; empty (the default) for the host's own.
std::string pg_root();

}  // namespace pgrev::it
