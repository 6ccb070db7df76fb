#include "child_process.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace pgrev::it {

namespace {

constexpr const char* kTestUser = "pgrev-test";

std::optional<RunAs> lookup_user(const char* name) {
    passwd* entry = getpwnam(name);
    if (entry == nullptr) return std::nullopt;
    return RunAs{name, entry->pw_uid, entry->pw_gid};
}

int exit_status_of(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return -1;
}

[[noreturn]] void fail_in_child(const char* what) {
    const char* reason = strerror(errno);
    ssize_t ignored = write(STDERR_FILENO, what, strlen(what));
    ignored = write(STDERR_FILENO, ": ", 2);
    ignored = write(STDERR_FILENO, reason, strlen(reason));
    ignored = write(STDERR_FILENO, "\n", 1);
    (void)ignored;
    _exit(127);
}

// The paths enter_root needs, made before fork.
struct RootPaths {
    std::string root, tmp, dev;
};

// Between fork and exec (system calls only): a private mount namespace, the host's /tmp and
// /dev bound into the root, then chroot.
void enter_root(const RootPaths& paths) {
    if (unshare(CLONE_NEWNS) != 0) fail_in_child("unshare(CLONE_NEWNS) for the Debian root");
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail_in_child("mount");
    if (mount("/tmp", paths.tmp.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        fail_in_child("bind /tmp into the Debian root");
    }
    if (mount("/dev", paths.dev.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        fail_in_child("bind /dev into the Debian root");
    }
    if (chroot(paths.root.c_str()) != 0) fail_in_child("chroot into the Debian root");
    if (chdir("/") != 0) fail_in_child("chdir /");
}

// PostgreSQL's programs look their user up (getpwuid): the account must exist in the root.
void add_account_to_root(const RunAs& account, const std::string& root) {
    auto has_line = [](const std::string& path, const std::string& prefix) {
        std::ifstream in(path);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind(prefix, 0) == 0) return true;
        }
        return false;
    };
    auto append = [](const std::string& path, const std::string& line) {
        std::ofstream out(path, std::ios::app);
        out << line << "\n";
        if (!out) throw std::runtime_error("cannot append to " + path);
    };
    std::string passwd = root + "/etc/passwd";
    std::string group = root + "/etc/group";
    if (!std::filesystem::exists(passwd)) {
        throw std::runtime_error(root +
                                 " is not a Debian root (no etc/passwd); see scripts/pg-roots.sh");
    }
    if (!has_line(passwd, account.name + ":")) {
        append(passwd, account.name + ":x:" + std::to_string(account.uid) + ":" +
                           std::to_string(account.gid) + "::/nonexistent:/usr/sbin/nologin");
    }
    if (!has_line(group, account.name + ":")) {
        append(group, account.name + ":x:" + std::to_string(account.gid) + ":");
    }
}

// Only async-signal-safe calls between fork and exec: everything is prepared beforehand.
[[noreturn]] void exec_child(const SpawnOptions& options, char* const* argv, char* const* envp,
                             const std::vector<gid_t>& groups, const RootPaths& root) {
    auto redirect = [&](const std::string& path, int target) {
        const char* file = path.empty() ? "/dev/null" : path.c_str();
        int fd = open(file, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0) fail_in_child("open output file");
        if (dup2(fd, target) < 0) fail_in_child("dup2");
        close(fd);
    };
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        close(devnull);
    }
    redirect(options.stdout_path, STDOUT_FILENO);
    redirect(options.stderr_path, STDERR_FILENO);
    // Sockets and files of the test process must not live on in the child (a test that
    // closes a connection expects the peer to see it closed).
    close_range(3, ~0U, 0);
    if (!root.root.empty()) enter_root(root);
    if (options.run_as) {
        if (setgroups(groups.size(), groups.data()) != 0) fail_in_child("setgroups");
        if (setgid(options.run_as->gid) != 0) fail_in_child("setgid");
        if (setuid(options.run_as->uid) != 0) fail_in_child("setuid");
    }
    // After setuid: a change of credentials clears the parent-death signal.
    if (options.signal_on_parent_death) prctl(PR_SET_PDEATHSIG, *options.signal_on_parent_death);
    execve(argv[0], argv, envp);
    fail_in_child("execve");
}

}  // namespace

std::optional<RunAs> unprivileged_user_if_root() {
    if (geteuid() != 0) return std::nullopt;
    if (auto user = lookup_user(kTestUser)) return user;
    CommandResult created =
        run_command({"/usr/sbin/useradd", "--system", "--no-create-home", kTestUser}, {},
                    std::chrono::seconds(30));
    auto user = lookup_user(kTestUser);
    if (!user) throw std::runtime_error("cannot create user pgrev-test: " + created.describe());
    return user;
}

ChildProcess ChildProcess::spawn(const SpawnOptions& options) {
    if (options.argv.empty()) throw std::invalid_argument("spawn: empty argv");
    std::vector<char*> argv;
    for (const std::string& arg : options.argv)
        argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    std::vector<std::string> env_strings;
    for (char** entry = environ; *entry != nullptr; ++entry)
        env_strings.emplace_back(*entry);
    for (const std::string& extra : options.extra_env)
        env_strings.push_back(extra);
    std::vector<char*> envp;
    for (const std::string& entry : env_strings)
        envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
    std::vector<gid_t> groups;
    if (options.run_as) {
        int count = 64;
        groups.resize(count);
        if (getgrouplist(options.run_as->name.c_str(), options.run_as->gid, groups.data(), &count) <
            0) {
            groups.resize(count);
            getgrouplist(options.run_as->name.c_str(), options.run_as->gid, groups.data(), &count);
        }
        groups.resize(count);
    }
    RootPaths root;
    if (!options.root_dir.empty()) {
        if (geteuid() != 0) {
            throw std::runtime_error("running " + options.argv[0] + " in the Debian root " +
                                     options.root_dir + " needs root (chroot)");
        }
        if (options.run_as) add_account_to_root(*options.run_as, options.root_dir);
        root = {options.root_dir, options.root_dir + "/tmp", options.root_dir + "/dev"};
    }
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(std::string("fork: ") + strerror(errno));
    if (pid == 0) exec_child(options, argv.data(), envp.data(), groups, root);
    return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), exit_status_(other.exit_status_), needed_sigkill_(other.needed_sigkill_) {
    other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        if (running()) stop(SIGKILL, std::chrono::seconds(5));
        pid_ = other.pid_;
        exit_status_ = other.exit_status_;
        needed_sigkill_ = other.needed_sigkill_;
        other.pid_ = -1;
    }
    return *this;
}

ChildProcess::~ChildProcess() {
    if (running()) stop(SIGKILL, std::chrono::seconds(5));
}

bool ChildProcess::running() {
    if (pid_ < 0 || exit_status_) return false;
    int status = 0;
    pid_t result = waitpid(pid_, &status, WNOHANG);
    if (result == pid_) {
        exit_status_ = exit_status_of(status);
        return false;
    }
    return result == 0;
}

void ChildProcess::send_signal(int signal_number) {
    if (running()) kill(pid_, signal_number);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exit_status_;
}

int ChildProcess::stop(int signal_number, std::chrono::milliseconds grace) {
    send_signal(signal_number);
    if (auto status = wait_for(grace)) return *status;
    needed_sigkill_ = true;
    send_signal(SIGKILL);
    if (auto status = wait_for(std::chrono::seconds(10))) return *status;
    return -1;
}

std::string CommandResult::describe() const {
    std::ostringstream text;
    text << "exit status " << exit_status << (timed_out ? " (timed out, killed)" : "")
         << "\n--- stdout ---\n"
         << out << "\n--- stderr ---\n"
         << err;
    return text.str();
}

CommandResult run_command(const std::vector<std::string>& argv,
                          const std::vector<std::string>& extra_env,
                          std::chrono::milliseconds timeout, const std::optional<RunAs>& run_as,
                          const std::string& root_dir) {
    char dir_template[] = "/tmp/pgrev-cmd-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    std::string dir = dir_template;
    SpawnOptions options;
    options.argv = argv;
    options.extra_env = extra_env;
    options.stdout_path = dir + "/stdout";
    options.stderr_path = dir + "/stderr";
    options.run_as = run_as;
    options.root_dir = root_dir;
    options.signal_on_parent_death = SIGKILL;
    CommandResult result;
    {
        ChildProcess child = ChildProcess::spawn(options);
        if (auto status = child.wait_for(timeout)) {
            result.exit_status = *status;
        } else {
            result.timed_out = true;
            result.exit_status = child.stop(SIGKILL, std::chrono::seconds(5));
        }
    }
    result.out = read_file(options.stdout_path);
    result.err = read_file(options.stderr_path);
    std::filesystem::remove_all(dir);
    return result;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream contents;
    contents << in.rdbuf();
    return contents.str();
}

void write_file(const std::string& path, const std::string& contents) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace pgrev::it
