#include "pgrev_process.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "raw_client.h"
#include "sanitizer_reports.h"

#ifndef PGREV_BINARY
#error "PGREV_BINARY must name the pgrev executable"
#endif

namespace pgrev::it {

std::string pgrev_binary() {
    const char* override_path = std::getenv("PGREV_TEST_BINARY");
    return override_path != nullptr ? override_path : PGREV_BINARY;
}

std::string pgrev_config_yaml(const PgrevOptions& options, std::uint16_t listen_port) {
    return "listen: 127.0.0.1:" + std::to_string(listen_port) + "\n" +
           "upstream: 127.0.0.1:" + std::to_string(options.upstream_port) + "\n" +
           "admin: {user: postgres}\n" + "audit: " + options.audit + "\n" +
           "limits: {max_clients: " + options.limits.max_clients +
           ", max_message_size: " + options.limits.max_message_size +
           ", startup_timeout: " + options.limits.startup_timeout + "}\n" +
           "log: {level: " + options.log_level + "}\n" +
           (options.tls.empty() ? "" : "tls: " + options.tls + "\n");
}

PgrevProcess::PgrevProcess(const PgrevOptions& options) {
    static std::atomic<int> instances{0};
    std::string name = "pgrev-" + std::to_string(++instances);
    config_path_ = options.work_dir + "/" + name + ".yaml";
    log_path_ = options.work_dir + "/" + name + ".log";
    port_ = free_tcp_port();
    config_text_ = pgrev_config_yaml(options, port_);
    write_file(config_path_, config_text_);

    SpawnOptions spawn;
    spawn.argv = {pgrev_binary(), "--config", config_path_};
    spawn.stdout_path = log_path_;
    spawn.stderr_path = log_path_;
    spawn.signal_on_parent_death = SIGTERM;
    child_.emplace(ChildProcess::spawn(spawn));

    Deadline deadline = deadline_in(std::chrono::seconds(10));
    // pgrev binds its port before it prepares the revision tables of every database, and says
    // "listening" after that (at level info): tests that look at those tables wait for the word.
    const bool says_listening =
        options.log_level == "info" || options.log_level == "debug" || options.log_level == "trace";
    bool accepting = false;
    auto ready = [&] {
        accepting =
            accepting || wait_until_accepting(port_, deadline_in(std::chrono::milliseconds(100)));
        return accepting &&
               (!says_listening || log_text().find("pgrev listening on") != std::string::npos);
    };
    while (!ready()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (!child_->running() || Clock::now() >= deadline) {
            std::string why = child_->running() ? "does not listen after 10 s" : "exited";
            child_->stop(SIGKILL, std::chrono::seconds(5));
            sanitizer_checked_ = true;
            check_sanitizer_output("pgrev log " + log_path_, log_text());
            throw std::runtime_error("pgrev " + why + "\n--- config ---\n" + config_text_ +
                                     "--- log ---\n" + log_text());
        }
    }
}

PgrevProcess::~PgrevProcess() {
    stop();
}

std::string PgrevProcess::log_text() const {
    return read_file(log_path_);
}

void PgrevProcess::reload() {
    if (child_) child_->send_signal(SIGHUP);
}

int PgrevProcess::stop(std::chrono::milliseconds grace) {
    if (!child_) return -1;
    int status = child_->stop(SIGTERM, grace);
    // Once per process: leaks are reported as it exits, other errors when they happen (and
    // the process stops there, so later tests fail too, but this names the cause).
    if (!sanitizer_checked_) {
        sanitizer_checked_ = true;
        check_sanitizer_output("pgrev log " + log_path_, log_text());
    }
    return status;
}

}  // namespace pgrev::it
