// The pgrev binary under test, started with a configuration file written for it and
// stopped with SIGTERM. Its stderr (the log) goes to a file the tests can read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "child_process.h"

namespace pgrev::it {

// Values as written in the YAML file (sizes "64MB", durations "60s").
struct PgrevLimits {
    std::string max_clients = "1000";
    std::string max_message_size = "64MB";
    std::string startup_timeout = "60s";
};

struct PgrevOptions {
    std::uint16_t upstream_port = 0;
    std::string work_dir;  // config and log files are created here
    PgrevLimits limits;
    std::string log_level = "info";
    // The value of the `audit:` key, as YAML (flow style is simplest).
    std::string audit = "{tables: [reservation]}";
    // The value of the `tls:` key, as YAML (e.g. "{client: {sslmode: require, cert_file: ...}}");
    // empty: no `tls` section.
    std::string tls;
};

// The configuration file PgrevProcess writes for `options`, listening on `listen_port`; for
// tests that run the binary themselves (e.g. to see it refuse to start).
std::string pgrev_config_yaml(const PgrevOptions& options, std::uint16_t listen_port);

class PgrevProcess {
  public:
    // Starts pgrev and waits (10 s) until its port accepts TCP connections and it has logged
    // that it listens (after preparing the revision tables); throws with
    // the log when it exits or does not listen in time.
    explicit PgrevProcess(const PgrevOptions& options);
    ~PgrevProcess();
    PgrevProcess(const PgrevProcess&) = delete;
    PgrevProcess& operator=(const PgrevProcess&) = delete;

    std::uint16_t port() const { return port_; }
    std::string log_text() const;
    const std::string& log_path() const { return log_path_; }
    const std::string& config_text() const { return config_text_; }
    bool running() { return child_ && child_->running(); }
    pid_t pid() const { return child_ ? child_->pid() : -1; }
    // SIGHUP: pgrev re-reads its certificate files for new connections.
    void reload();
    // SIGTERM, then SIGKILL after `grace`. Returns the exit status.
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
    bool needed_sigkill() const { return child_ && child_->needed_sigkill(); }

  private:
    std::uint16_t port_ = 0;
    std::string config_path_;
    std::string log_path_;
    std::string config_text_;
    std::optional<ChildProcess> child_;
    bool sanitizer_checked_ = false;
};

std::string pgrev_binary();  // PGREV_TEST_BINARY, else the one CMake built

}  // namespace pgrev::it
