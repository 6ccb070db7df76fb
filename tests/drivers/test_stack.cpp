// pgrev_test_stack: runs one driver test against a private PostgreSQL 15 behind the real
// pgrev, then stops both and exits with the test's status.
//
//   pgrev_test_stack [--timeout SECONDS] [--tls] COMMAND [ARG...]
//
// The command gets the usual libpq variables pointing at pgrev, so every driver finds the
// server without options of its own:
//
//   PGHOST=127.0.0.1  PGPORT=<pgrev>  PGUSER=scramuser  PGPASSWORD=...  PGDATABASE=app
//
// (a SCRAM role, so each driver's own authentication code goes through pgrev), plus
//
//   PGREV_DIRECT_PORT   PostgreSQL's own port, to compare with what a driver sees directly
//   PGREV_SUPERUSER     a role that may log in over TCP without a password (trust)
//   PGREV_PG_BINDIR     PostgreSQL's binaries (pgbench)
//   PGREV_LOG           pgrev's log file
//
// Every PG* variable this process inherited is dropped first (PGREV_* ones are kept), so a
// developer's PGSSLMODE or PGSERVICE cannot change what the drivers do.
//
// --tls: TLS on both legs, as issue 8 asks of every driver: PostgreSQL runs with ssl = on and a
// pg_hba.conf of hostssl lines only (SCRAM for the application role), pgrev with
// tls.client.sslmode = require (its own certificate) and tls.upstream.sslmode = verify-full
// against the cluster's CA; the command also gets
//
//   PGSSLMODE=verify-full  PGSSLROOTCERT=<the CA>   (libpq, asyncpg; pgjdbc's URL, see
//                                                   PgjdbcTest.java)
//   NODE_EXTRA_CA_CERTS=<the CA>                    (node-postgres, which reads PGSSLMODE)
//   PGREV_TLS=1                                     (each suite checks once that both legs
//                                                   are TLS; without it, that both are clear)
//
// The certificates (tests/integration/tls_certs.h) name localhost and 127.0.0.1, for both
// PostgreSQL and pgrev, so verify-full holds on the direct connections too.
//
// The cluster is new for every run: database `app` holds the audited table `reservation`
// (tests/integration/pg_cluster.cpp) and pgrev has created `reservation_rev` at start.
// PGREV_TEST_LOG_LEVEL sets pgrev's log level (default info); PGREV_TEST_SHOW_LOG=1 prints
// pgrev's log at the end even when the test passed (on failure its tail is always printed).
// The harness reports sanitizer findings through doctest when a test is running; this is not
// a doctest binary, so it carries doctest's implementation (and is never "in a test").
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pg_cluster.h"
#include "pgrev_process.h"
#include "pq_conn.h"
#include "raw_client.h"

extern char** environ;

namespace {

using namespace pgrev::it;

// --tls: TCP connections to PostgreSQL only with TLS. postgres (trust) is PGREV_SUPERUSER, the
// scripts' direct admin connection, and pgrev's admin.user; the application role, like every
// other, logs in with SCRAM.
const char* const kTlsOnlyHba =
    "local all all trust\n"
    "hostssl all postgres 127.0.0.1/32 trust\n"
    "hostssl all md5user 127.0.0.1/32 md5\n"
    "hostssl all all 127.0.0.1/32 scram-sha-256\n";

volatile std::sig_atomic_t interrupted = 0;

void on_signal(int) {
    interrupted = 1;
}

[[noreturn]] void usage(const char* message) {
    std::cerr << "pgrev_test_stack: " << message << "\n"
              << "usage: pgrev_test_stack [--timeout SECONDS] [--tls] COMMAND [ARG...]\n";
    std::exit(2);
}

std::string env_or(const char* name, const std::string& fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

// The last `lines` lines of `text`.
std::string tail(const std::string& text, std::size_t lines) {
    std::size_t pos = text.size();
    for (std::size_t n = 0; pos > 0 && n <= lines; ++n) {
        std::size_t previous = text.rfind('\n', pos - 1);
        if (previous == std::string::npos) return text;
        if (n == lines) return text.substr(previous + 1);
        pos = previous;
    }
    return text;
}

// The child's environment: ours without PG* (but with PGREV_*), plus `extra`, which replaces
// what we have of the same names (a NODE_EXTRA_CA_CERTS of the machine's, say: the first of
// two entries wins).
std::vector<std::string> child_environment(const std::vector<std::string>& extra) {
    auto name_of = [](const std::string& item) { return item.substr(0, item.find('=')); };
    auto replaced = [&](const std::string& item) {
        for (const std::string& e : extra) {
            if (name_of(e) == name_of(item)) return true;
        }
        return false;
    };
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        std::string item = *entry;
        if (item.rfind("PG", 0) == 0 && item.rfind("PGREV_", 0) != 0) continue;
        if (replaced(item)) continue;
        env.push_back(item);
    }
    env.insert(env.end(), extra.begin(), extra.end());
    return env;
}

// Runs the test command in a process group of its own (so a timeout stops its children
// too: npm, the JVM, pgbench) with stdout and stderr inherited, so ctest shows its output.
class TestCommand {
  public:
    TestCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        std::vector<char*> envp;
        for (const auto& e : env)
            envp.push_back(const_cast<char*>(e.c_str()));
        envp.push_back(nullptr);
        pid_t parent = getpid();
        pid_ = fork();
        if (pid_ < 0) throw std::runtime_error("fork failed: " + std::string(strerror(errno)));
        if (pid_ == 0) {
            setpgid(0, 0);
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(127);
            execvpe(args[0], args.data(), envp.data());
            std::fprintf(stderr, "pgrev_test_stack: cannot run %s: %s\n", args[0], strerror(errno));
            _exit(127);
        }
        setpgid(pid_, pid_);  // also here, so the group exists before we might signal it
    }

    // The exit status (128 + signal when killed), or -1 when the deadline passed or this
    // process was interrupted; then the whole group is stopped.
    int wait(std::chrono::seconds timeout, bool& timed_out) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        timed_out = false;
        for (;;) {
            int status = 0;
            pid_t done = waitpid(pid_, &status, WNOHANG);
            if (done == pid_) {
                stop_group();  // leftovers of the test, if any
                if (WIFEXITED(status)) return WEXITSTATUS(status);
                if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
                return -1;
            }
            if (interrupted || std::chrono::steady_clock::now() >= deadline) {
                timed_out = !interrupted;
                stop_group();
                waitpid(pid_, &status, 0);
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }

  private:
    void stop_group() {
        if (kill(-pid_, 0) != 0) return;
        kill(-pid_, SIGTERM);
        for (int i = 0; i < 100 && kill(-pid_, 0) == 0; ++i) {
            int status = 0;
            waitpid(pid_, &status, WNOHANG);  // reap the leader so the group can empty
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        kill(-pid_, SIGKILL);
    }

    pid_t pid_ = -1;
};

int run(int argc, char** argv) {
    std::chrono::seconds timeout{120};
    int first = 1;
    if (argc > 2 && std::strcmp(argv[1], "--timeout") == 0) {
        timeout = std::chrono::seconds(std::atoi(argv[2]));
        if (timeout.count() <= 0) usage("--timeout needs a positive number of seconds");
        first = 3;
    }
    bool tls = false;
    if (first < argc && std::strcmp(argv[first], "--tls") == 0) {
        tls = true;
        ++first;
    }
    if (first >= argc) usage("no command given");
    std::vector<std::string> command(argv + first, argv + argc);

    PgClusterOptions cluster_options;
    if (tls) {
        cluster_options.tls = true;
        cluster_options.hba_conf = kTlsOnlyHba;
    }
    std::unique_ptr<PgCluster> cluster = PgCluster::start(cluster_options);
    PgrevOptions options;
    options.upstream_port = cluster->port();
    options.work_dir = cluster->dir();
    options.log_level = env_or("PGREV_TEST_LOG_LEVEL", "info");
    std::string client_ssl;  // what the readiness checks below add to their conninfo
    std::vector<std::string> tls_env = {"PGREV_TLS=0"};
    if (tls) {
        const TlsCertificates& certs = cluster->certificates();
        options.tls = "{client: {sslmode: require, cert_file: " + certs.pgrev.cert +
                      ", key_file: " + certs.pgrev.key +
                      "}, upstream: {sslmode: verify-full, ca_file: " + certs.ca + "}}";
        client_ssl = " sslmode=verify-full sslrootcert=" + certs.ca;
        tls_env = {"PGREV_TLS=1", "PGSSLMODE=verify-full", "PGSSLROOTCERT=" + certs.ca,
                   "NODE_EXTRA_CA_CERTS=" + certs.ca};
    }
    auto pgrev = std::make_unique<PgrevProcess>(options);

    // pgrev binds its port first and accepts once the revision tables are prepared, so a
    // query through it is the sign that it is ready; then check that it did prepare them.
    {
        Deadline deadline = deadline_in(std::chrono::seconds(20));
        std::string through_pgrev = "host=127.0.0.1 port=" + std::to_string(pgrev->port()) +
                                    " user=" + TestRoles::kSuperuser + " dbname=app" + client_ssl;
        PgConn ready = PgConn::connect(through_pgrev, deadline);
        if (ready.value("SELECT 1", deadline) != "1") throw std::runtime_error("SELECT 1 failed");
        PgConn admin =
            PgConn::connect(cluster->conninfo(TestRoles::kSuperuser, "app") + client_ssl, deadline);
        if (admin.value("SELECT to_regclass('public.reservation_rev') IS NOT NULL", deadline) !=
            "t") {
            throw std::runtime_error(
                "pgrev did not create reservation_rev at start\n--- log ---\n" + pgrev->log_text());
        }
    }

    std::vector<std::string> vars = {
        "PGHOST=127.0.0.1",
        "PGPORT=" + std::to_string(pgrev->port()),
        std::string("PGUSER=") + TestRoles::kScramUser,
        std::string("PGPASSWORD=") + TestRoles::kScramPassword,
        std::string("PGDATABASE=") + TestRoles::kDatabase,
        "PGREV_DIRECT_PORT=" + std::to_string(cluster->port()),
        std::string("PGREV_SUPERUSER=") + TestRoles::kSuperuser,
        "PGREV_PG_BINDIR=" + pg_bindir(),
        "PGREV_LOG=" + pgrev->log_path(),
    };
    vars.insert(vars.end(), tls_env.begin(), tls_env.end());
    std::vector<std::string> env = child_environment(vars);

    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_signal);
    bool timed_out = false;
    int status = TestCommand(command, env).wait(timeout, timed_out);

    bool pgrev_alive = pgrev->running();
    int pgrev_status = pgrev->stop();
    bool pgrev_clean = pgrev_alive && pgrev_status == 0 && !pgrev->needed_sigkill();
    std::string log = pgrev->log_text();

    int result = status;
    if (timed_out) {
        std::cerr << "pgrev_test_stack: the test did not finish within " << timeout.count()
                  << " s and was stopped\n";
        result = 124;
    } else if (interrupted) {
        std::cerr << "pgrev_test_stack: interrupted\n";
        result = 130;
    }
    if (!pgrev_alive) {
        std::cerr << "pgrev_test_stack: pgrev exited during the test\n";
        if (result == 0) result = 1;
    } else if (!pgrev_clean) {
        std::cerr << "pgrev_test_stack: pgrev did not stop cleanly on SIGTERM (exit status "
                  << pgrev_status << (pgrev->needed_sigkill() ? ", needed SIGKILL" : "") << ")\n";
        if (result == 0) result = 1;
    }
    if (result != 0) {
        std::cerr << "pgrev_test_stack: FAILED (status " << result << "): " << command[0];
        for (std::size_t i = 1; i < command.size(); ++i)
            std::cerr << " " << command[i];
        std::cerr << "\n--- pgrev config ---\n"
                  << pgrev->config_text() << "--- pgrev log (last 60 lines) ---\n"
                  << tail(log, 60) << "--- end of pgrev log ---\n";
    } else if (std::getenv("PGREV_TEST_SHOW_LOG") != nullptr) {
        std::cerr << "--- pgrev log ---\n" << log << "--- end of pgrev log ---\n";
    }
    pgrev.reset();
    cluster.reset();
    return result;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& error) {
        std::cerr << "pgrev_test_stack: " << error.what() << "\n";
        return 1;
    }
}
