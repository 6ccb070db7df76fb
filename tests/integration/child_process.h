// Starting and stopping the programs the integration tests need (initdb, postgres, pgrev,
// psql, pgbench) without a shell, so arguments never need quoting and every child can be
// stopped by its pid.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgrev::it {

// An unprivileged account to run a child as (PostgreSQL refuses to run as root).
struct RunAs {
    std::string name;
    uid_t uid = 0;
    gid_t gid = 0;
};

// The account `pgrev-test`, created on first use, when this process is root; otherwise none.
std::optional<RunAs> unprivileged_user_if_root();

struct SpawnOptions {
    std::vector<std::string> argv;              // argv[0] is an absolute path
    std::vector<std::string> extra_env;         // "KEY=VALUE", added to this process's environment
    std::string stdout_path;                    // empty: /dev/null
    std::string stderr_path;                    // empty: /dev/null
    std::optional<RunAs> run_as;                // drop privileges in the child before exec
    std::optional<int> signal_on_parent_death;  // PR_SET_PDEATHSIG, so no child outlives a crash
    // A Debian root (scripts/pg-roots.sh) to run argv[0] in, with chroot: root only. The
    // child gets a mount namespace of its own where the host's /tmp and /dev are bound into
    // the root, so paths under /tmp mean the same inside and out and nothing stays mounted.
    // run_as is added to the root's /etc/passwd (PostgreSQL looks its user up).
    std::string root_dir;
};

class ChildProcess {
  public:
    static ChildProcess spawn(const SpawnOptions& options);

    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    ~ChildProcess();  // SIGKILL and reap if still running

    pid_t pid() const { return pid_; }
    bool running();
    void send_signal(int signal_number);
    // The exit status (128 + signal number when killed by a signal), or nothing on timeout.
    std::optional<int> wait_for(std::chrono::milliseconds timeout);
    // Sends `signal_number`, waits up to `grace`, then SIGKILL. Returns the exit status.
    int stop(int signal_number, std::chrono::milliseconds grace);
    bool needed_sigkill() const { return needed_sigkill_; }

  private:
    explicit ChildProcess(pid_t pid) : pid_(pid) {}
    pid_t pid_ = -1;
    std::optional<int> exit_status_;
    bool needed_sigkill_ = false;
};

struct CommandResult {
    int exit_status = -1;
    bool timed_out = false;
    std::string out;
    std::string err;

    std::string describe() const;  // for failure messages
};

// Runs a command to completion (killed at `timeout`), capturing stdout and stderr.
CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env,
                          std::chrono::milliseconds timeout,
                          const std::optional<RunAs>& run_as = std::nullopt,
                          const std::string& root_dir = {});

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& contents);

}  // namespace pgrev::it
