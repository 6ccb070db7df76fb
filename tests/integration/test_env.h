// The one PostgreSQL and the one pgrev shared by every test of the process, started on
// first use and stopped at exit, so the whole suite pays for startup once.
//
// PGREV_TEST_DIRECT=1 skips pgrev: "proxied" connections then go straight to PostgreSQL
// (to develop tests while the proxy is not ready; tests that need pgrev itself are skipped).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "pg_cluster.h"
#include "pgrev_process.h"

namespace pgrev::it {

// What a test binary other than the default one (e.g. the TLS tests) wants of its environment;
// set with TestEnv::configure before the first get().
struct TestEnvOptions {
    PgClusterOptions cluster;
    bool shared_pgrev = true;  // false: only the instances the tests start (start_pgrev)
};

class TestEnv {
  public:
    static void configure(const TestEnvOptions& options);
    static TestEnv& get();
    static TestEnv* if_started();  // nullptr until the first get()

    bool direct_mode() const { return direct_mode_; }
    PgCluster& cluster() { return *cluster_; }
    PgrevProcess& pgrev();  // the shared instance; throws in direct mode
    PgrevProcess* pgrev_if_any() { return pgrev_.get(); }
    std::uint16_t proxy_port() const;

    // Connection strings; the role's password is included, and `extra` ("key=value ...")
    // comes last so it can override anything, the password included.
    std::string direct(const std::string& user = "postgres", const std::string& db = "app",
                       const std::string& extra = "") const;
    std::string proxied(const std::string& user = "postgres", const std::string& db = "app",
                        const std::string& extra = "") const;
    std::string via_port(std::uint16_t port, const std::string& user, const std::string& db,
                         const std::string& extra = "") const;

    // Another pgrev in front of the same cluster, e.g. with tighter limits.
    std::unique_ptr<PgrevProcess> start_pgrev(const PgrevLimits& limits);
    // ... with its own `audit:` section (YAML), e.g. "{tables: [reservation, t2]}".
    std::unique_ptr<PgrevProcess> start_pgrev(const PgrevLimits& limits,
                                              const std::string& audit_yaml);
    // ... with options of the test's own (start from pgrev_options()).
    std::unique_ptr<PgrevProcess> start_pgrev(const PgrevOptions& options);
    // Options for another pgrev in front of this cluster (upstream and work dir filled in).
    PgrevOptions pgrev_options() const;
    // Log files of every extra instance started so far, in order.
    const std::vector<std::string>& extra_pgrev_logs() const { return extra_pgrev_logs_; }

    ~TestEnv();

  private:
    TestEnv();
    bool direct_mode_ = false;
    std::unique_ptr<PgCluster> cluster_;
    std::unique_ptr<PgrevProcess> pgrev_;
    std::vector<std::string> extra_pgrev_logs_;
};

// For tests that only make sense through the real pgrev: true (with a message) when the
// suite runs in direct mode and the test should return early.
bool skip_without_pgrev();

}  // namespace pgrev::it
