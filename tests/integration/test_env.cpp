#include "test_env.h"

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>

#include "sanitizer_reports.h"

namespace pgrev::it {

namespace {

std::unique_ptr<TestEnv> the_env;
std::string start_failure;  // start once: a broken setup fails every test quickly

TestEnvOptions& configured() {
    static TestEnvOptions options;
    return options;
}

}  // namespace

void TestEnv::configure(const TestEnvOptions& options) {
    if (the_env) throw std::logic_error("TestEnv::configure after the environment started");
    configured() = options;
}

TestEnv& TestEnv::get() {
    if (!start_failure.empty()) throw std::runtime_error(start_failure);
    if (!the_env) {
        try {
            the_env.reset(new TestEnv());
        } catch (const std::exception& error) {
            start_failure = std::string("test environment did not start: ") + error.what();
            throw std::runtime_error(start_failure);
        }
    }
    return *the_env;
}

TestEnv* TestEnv::if_started() {
    return the_env.get();
}

TestEnv::TestEnv() {
    const char* direct = std::getenv("PGREV_TEST_DIRECT");
    direct_mode_ = direct != nullptr && std::strcmp(direct, "0") != 0 && *direct != '\0';
    cluster_ = PgCluster::start(configured().cluster);
    if (!direct_mode_ && configured().shared_pgrev) {
        PgrevOptions options;
        options.upstream_port = cluster_->port();
        options.work_dir = cluster_->dir();
        pgrev_ = std::make_unique<PgrevProcess>(options);
    }
}

TestEnv::~TestEnv() {
    if (pgrev_) {
        int status = pgrev_->stop();
        if (pgrev_->needed_sigkill() || status != 0) {
            std::cerr << "pgrev did not stop cleanly on SIGTERM (exit status " << status
                      << (pgrev_->needed_sigkill() ? ", needed SIGKILL" : "") << ")\n";
        }
        if (std::getenv("PGREV_TEST_SHOW_LOG") != nullptr) {
            std::cerr << "--- pgrev log ---\n" << pgrev_->log_text();
        }
        pgrev_.reset();
    }
    cluster_.reset();
    // The shared pgrev stops after doctest has returned its status: a sanitizer report found
    // now (or one a test already failed on) must still fail the run.
    if (sanitizer_reports_found() > 0) {
        std::cerr << "sanitizer reports found in pgrev's logs: " << sanitizer_reports_found()
                  << "\n";
        std::_Exit(1);
    }
}

PgrevProcess& TestEnv::pgrev() {
    if (!pgrev_) throw std::logic_error("no pgrev in direct mode");
    return *pgrev_;
}

std::uint16_t TestEnv::proxy_port() const {
    return pgrev_ ? pgrev_->port() : cluster_->port();
}

std::string TestEnv::via_port(std::uint16_t port, const std::string& user, const std::string& db,
                              const std::string& extra) const {
    std::string text =
        "host=127.0.0.1 port=" + std::to_string(port) + " user=" + user + " dbname=" + db;
    std::string password = TestRoles::password_for(user);
    if (!password.empty()) text += " password=" + password;
    if (!extra.empty()) text += " " + extra;
    return text;
}

std::string TestEnv::direct(const std::string& user, const std::string& db,
                            const std::string& extra) const {
    return via_port(cluster_->port(), user, db, extra);
}

std::string TestEnv::proxied(const std::string& user, const std::string& db,
                             const std::string& extra) const {
    return via_port(proxy_port(), user, db, extra);
}

PgrevOptions TestEnv::pgrev_options() const {
    PgrevOptions options;
    options.upstream_port = cluster_->port();
    options.work_dir = cluster_->dir();
    return options;
}

std::unique_ptr<PgrevProcess> TestEnv::start_pgrev(const PgrevLimits& limits) {
    return start_pgrev(limits, PgrevOptions{}.audit);
}

std::unique_ptr<PgrevProcess> TestEnv::start_pgrev(const PgrevLimits& limits,
                                                   const std::string& audit_yaml) {
    PgrevOptions options = pgrev_options();
    options.limits = limits;
    options.audit = audit_yaml;
    return start_pgrev(options);
}

std::unique_ptr<PgrevProcess> TestEnv::start_pgrev(const PgrevOptions& options) {
    auto pgrev = std::make_unique<PgrevProcess>(options);
    extra_pgrev_logs_.push_back(pgrev->log_path());
    return pgrev;
}

bool skip_without_pgrev() {
    if (!TestEnv::get().direct_mode()) return false;
    MESSAGE("skipped: PGREV_TEST_DIRECT is set, this test needs the real pgrev");
    return true;
}

}  // namespace pgrev::it
