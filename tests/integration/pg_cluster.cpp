#include "pg_cluster.h"

#include <libpq-fe.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

#include "pq_conn.h"
#include "raw_client.h"

#ifndef PGREV_PG_BINDIR
#define PGREV_PG_BINDIR "/usr/lib/postgresql/15/bin"
#endif

namespace pgrev::it {

namespace {

const char* const kHbaConf =
    "local all all trust\n"
    "host all postgres 127.0.0.1/32 trust\n"
    "host all md5user 127.0.0.1/32 md5\n"
    "host all all 127.0.0.1/32 scram-sha-256\n";

void append_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::app);
    out << text;
    if (!out) throw std::runtime_error("cannot append to " + path);
}

// The test process that made a temp dir, recorded so a later run can tell leftovers of a
// killed run (SIGKILL leaves no chance to clean up) from the dirs of a run in progress.
const char* const kOwnerFile = "owner.pid";

bool process_exists(const std::string& pid_text) {
    try {
        pid_t pid = std::stoi(pid_text);
        return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
    } catch (const std::exception&) {
        return false;
    }
}

void remove_leftovers_of_killed_runs() {
    std::error_code ignored;
    for (const auto& entry : std::filesystem::directory_iterator("/tmp", ignored)) {
        std::string name = entry.path().filename().string();
        if (name.rfind("pgrev-it-", 0) != 0) continue;
        std::string owner = read_file(entry.path().string() + "/" + kOwnerFile);
        if (owner.empty() || process_exists(owner)) continue;
        // postgres gets SIGQUIT when its parent dies; if it still runs, leave it be.
        std::string postmaster = read_file(entry.path().string() + "/data/postmaster.pid");
        if (!postmaster.empty() && process_exists(postmaster.substr(0, postmaster.find('\n')))) {
            continue;
        }
        std::filesystem::remove_all(entry.path(), ignored);
    }
}

}  // namespace

std::string pg_bindir() {
    const char* override_dir = std::getenv("PGREV_TEST_PG_BINDIR");
    return override_dir != nullptr ? override_dir : PGREV_PG_BINDIR;
}

std::string pg_root() {
    const char* root = std::getenv("PGREV_TEST_PG_ROOT");
    return root != nullptr ? root : "";
}

std::string TestRoles::password_for(const std::string& user) {
    if (user == kScramUser) return kScramPassword;
    if (user == kMd5User) return kMd5Password;
    return "";
}

std::unique_ptr<PgCluster> PgCluster::start(const PgClusterOptions& options) {
    remove_leftovers_of_killed_runs();
    std::unique_ptr<PgCluster> cluster(new PgCluster());
    cluster->options_ = options;
    char dir_template[] = "/tmp/pgrev-it-XXXXXX";
    if (mkdtemp(dir_template) == nullptr) throw std::runtime_error("mkdtemp failed");
    cluster->dir_ = dir_template;
    write_file(cluster->dir_ + "/" + kOwnerFile, std::to_string(getpid()));
    cluster->data_dir_ = cluster->dir_ + "/data";
    cluster->log_path_ = cluster->dir_ + "/postgres.log";
    try {
        cluster->run_as_ = unprivileged_user_if_root();
        if (cluster->run_as_) {
            if (chown(cluster->dir_.c_str(), cluster->run_as_->uid, cluster->run_as_->gid) != 0) {
                throw std::runtime_error("chown " + cluster->dir_ + " failed");
            }
        }
        if (options.tls) {
            // The role of the good client certificate: the SCRAM role the TLS tests log in as.
            cluster->certificates_ = make_tls_certificates(cluster->dir_ + "/tls",
                                                           TestRoles::kScramUser, cluster->run_as_);
        }
        cluster->init_data_directory();
        cluster->start_server();
        cluster->create_roles_and_database();
    } catch (const std::exception& error) {
        std::string log = cluster->log_text();
        throw std::runtime_error(std::string("PostgreSQL did not start: ") + error.what() +
                                 "\n--- server log ---\n" + log);
    }
    return cluster;
}

PgCluster::~PgCluster() {
    try {
        stop();
    } catch (const std::exception& error) {
        std::cerr << "stopping PostgreSQL: " << error.what() << "\n";
    }
    if (std::getenv("PGREV_TEST_KEEP") != nullptr) {
        std::cerr << "PGREV_TEST_KEEP: leaving " << dir_ << "\n";
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
}

std::string PgCluster::log_text() const {
    return read_file(log_path_);
}

const TlsCertificates& PgCluster::certificates() const {
    if (!certificates_) throw std::logic_error("the cluster was started without TLS");
    return *certificates_;
}

std::string PgCluster::conninfo(const std::string& user, const std::string& database) const {
    std::string text =
        "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + user + " dbname=" + database;
    std::string password = TestRoles::password_for(user);
    if (!password.empty()) text += " password=" + password;
    return text;
}

void PgCluster::init_data_directory() {
    CommandResult initdb =
        run_command({pg_bindir() + "/initdb", "-D", data_dir_, "-U", "postgres", "--auth=trust",
                     "--no-sync", "--encoding=UTF8", "--locale=C"},
                    {}, std::chrono::seconds(120), run_as_, pg_root());
    if (initdb.exit_status != 0) throw std::runtime_error("initdb failed: " + initdb.describe());
    port_ = free_tcp_port();
    append_file(data_dir_ + "/postgresql.conf",
                "\n# pgrev integration tests\n"
                "listen_addresses = '127.0.0.1'\n"
                "port = " +
                    std::to_string(port_) +
                    "\n"
                    "unix_socket_directories = '" +
                    dir_ +
                    "'\n"
                    "max_connections = 300\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                    "password_encryption = 'scram-sha-256'\n"
                    "lc_messages = 'C'\n");
    if (certificates_) {
        append_file(data_dir_ + "/postgresql.conf",
                    "ssl = on\n"
                    "ssl_cert_file = '" +
                        certificates_->server.cert +
                        "'\n"
                        "ssl_key_file = '" +
                        certificates_->server.key + "'\n");
        if (options_.client_certificates) {
            append_file(data_dir_ + "/postgresql.conf",
                        "ssl_ca_file = '" + certificates_->client_ca + "'\n");
        }
    }
    // Truncating keeps the file's owner, so the server (not root) can still read it.
    write_file(data_dir_ + "/pg_hba.conf",
               options_.hba_conf.empty() ? std::string(kHbaConf) : options_.hba_conf);
}

void PgCluster::start_server() {
    SpawnOptions options;
    options.argv = {pg_bindir() + "/postgres", "-D", data_dir_};
    options.stdout_path = log_path_;
    options.stderr_path = log_path_;
    options.run_as = run_as_;
    options.root_dir = pg_root();
    options.signal_on_parent_death = SIGQUIT;
    postmaster_.emplace(ChildProcess::spawn(options));
    std::string ping = "host=127.0.0.1 port=" + std::to_string(port_) +
                       " user=postgres dbname=postgres connect_timeout=2";
    Deadline deadline = deadline_in(std::chrono::seconds(30));
    while (PQping(ping.c_str()) != PQPING_OK) {
        if (!postmaster_->running()) throw std::runtime_error("postgres exited");
        if (Clock::now() >= deadline) throw std::runtime_error("postgres not ready after 30 s");
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
}

void PgCluster::create_roles_and_database() {
    Deadline deadline = deadline_in(std::chrono::seconds(30));
    {
        PgConn admin = PgConn::connect(conninfo("postgres", "postgres"), deadline);
        admin.run_one("CREATE DATABASE app", deadline, PGRES_COMMAND_OK);
        admin.run_one(
            std::string("CREATE ROLE scramuser LOGIN PASSWORD '") + TestRoles::kScramPassword + "'",
            deadline, PGRES_COMMAND_OK);
        admin.run_one("SET password_encryption = 'md5'", deadline, PGRES_COMMAND_OK);
        admin.run_one(
            std::string("CREATE ROLE md5user LOGIN PASSWORD '") + TestRoles::kMd5Password + "'",
            deadline, PGRES_COMMAND_OK);
    }
    PgConn app = PgConn::connect(conninfo("postgres", "app"), deadline);
    app.run_one("GRANT ALL ON SCHEMA public TO scramuser, md5user", deadline, PGRES_COMMAND_OK);
    // The table pgrev's configuration audits (README, The reservation example).
    app.run_one(
        "CREATE TABLE reservation (id serial PRIMARY KEY, name text NOT NULL, date date, "
        "time time, party integer, last_modified timestamptz NOT NULL DEFAULT now())",
        deadline, PGRES_COMMAND_OK);
    app.run_one("GRANT ALL ON reservation, reservation_id_seq TO scramuser, md5user", deadline,
                PGRES_COMMAND_OK);
}

void PgCluster::restart(int shutdown_signal, const std::function<void()>& while_down) {
    if (postmaster_ && postmaster_->running()) {
        postmaster_->stop(shutdown_signal, std::chrono::seconds(20));
    }
    try {
        if (while_down) while_down();
    } catch (...) {
        start_server();  // the next test needs the server
        throw;
    }
    start_server();
}

void PgCluster::stop() {
    if (!postmaster_ || !postmaster_->running()) return;
    // SIGINT is PostgreSQL's fast shutdown: abort sessions, checkpoint, exit.
    int status = postmaster_->stop(SIGINT, std::chrono::seconds(20));
    if (postmaster_->needed_sigkill())
        std::cerr << "postgres needed SIGKILL (status " << status << ")\n";
}

}  // namespace pgrev::it
