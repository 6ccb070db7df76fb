#include "tls_support.h"

#include <thread>

namespace pgrev::it::tls_it {

// What each line is for:
// - local: the harness never needs it over TCP, but psql by hand (PGREV_TEST_KEEP) does.
// - hostssl postgres trust: the harness's own setup and pgrev's admin role (admin.user), and
//   the "trust" column of the matrix.
// - hostssl md5user md5: the "md5" column of the matrix.
// - hostssl app_cert scramuser cert: database app_cert takes a client certificate instead of a
//   password (CN = the role), for tls.upstream.cert_file.
// - hostssl all scram-sha-256: everyone else, SCRAM over TLS only: what the issue asks of the
//   server (pgrev cannot talk to it in clear).
// - host app_clear ...: the same three methods without TLS, for database app_clear only: the
//   matrix's "upstream sslmode = disable" row needs a server that allows a clear connection.
//   Database app has no host line, so a clear connection to it is refused by the server.
const char* const kTlsHba =
    "local all all trust\n"
    "hostssl all postgres 127.0.0.1/32 trust\n"
    "hostssl all md5user 127.0.0.1/32 md5\n"
    "hostssl app_cert scramuser 127.0.0.1/32 cert\n"
    "hostssl all all 127.0.0.1/32 scram-sha-256\n"
    "host app_clear postgres 127.0.0.1/32 trust\n"
    "host app_clear md5user 127.0.0.1/32 md5\n"
    "host app_clear all 127.0.0.1/32 scram-sha-256\n";

TestEnvOptions tls_env_options() {
    TestEnvOptions options;
    options.cluster.tls = true;
    options.cluster.client_certificates = true;
    options.cluster.hba_conf = kTlsHba;
    options.shared_pgrev = false;  // every test starts the pgrev whose `tls:` it needs
    return options;
}

TestEnv& env() {
    static bool prepared = false;
    TestEnv& the_env = TestEnv::get();
    if (!prepared) {
        // Before any pgrev runs: CREATE DATABASE ... TEMPLATE needs `app` without sessions.
        PgConn admin = PgConn::connect(the_env.direct("postgres", "postgres"), soon());
        for (const char* db : {kClearDatabase, kCertDatabase}) {
            admin.run_one(std::string("CREATE DATABASE ") + db + " TEMPLATE app", soon(),
                          PGRES_COMMAND_OK);
        }
        prepared = true;
    }
    return the_env;
}

const TlsCertificates& certs() {
    return env().cluster().certificates();
}

Deadline soon() {
    return deadline_in(std::chrono::seconds(10));
}

std::string tls_yaml(const PgrevTls& tls) {
    std::string cert = tls.client_cert.empty() ? certs().pgrev.cert : tls.client_cert;
    std::string key = tls.client_key.empty() ? certs().pgrev.key : tls.client_key;
    std::string yaml =
        "{client: {sslmode: " + tls.client_mode + ", cert_file: " + cert + ", key_file: " + key;
    if (!tls.client_ca.empty()) yaml += ", ca_file: " + tls.client_ca;
    yaml += "}, upstream: {sslmode: " + tls.upstream_mode;
    std::string upstream_ca = tls.upstream_ca;
    if (upstream_ca.empty() && tls.upstream_mode.rfind("verify-", 0) == 0) upstream_ca = certs().ca;
    if (!upstream_ca.empty()) yaml += ", ca_file: " + upstream_ca;
    if (!tls.upstream_cert.empty()) {
        yaml += ", cert_file: " + tls.upstream_cert + ", key_file: " + tls.upstream_key;
    }
    return yaml + "}}";
}

std::unique_ptr<PgrevProcess> start_pgrev(const PgrevTls& tls) {
    PgrevOptions options = env().pgrev_options();
    options.tls = tls_yaml(tls);
    return env().start_pgrev(options);
}

namespace {

std::string with_password(std::string text, const std::string& user) {
    std::string password = TestRoles::password_for(user);
    if (!password.empty()) text += " password=" + password;
    return text;
}

std::string ssl_part(const std::string& sslmode) {
    std::string text = " sslmode=" + sslmode;
    if (sslmode.rfind("verify-", 0) == 0) text += " sslrootcert=" + certs().ca;
    return text;
}

}  // namespace

std::string conninfo(std::uint16_t port, const std::string& user, const std::string& db,
                     const std::string& sslmode, const std::string& extra) {
    std::string host =
        sslmode.rfind("verify-", 0) == 0 ? "host=localhost hostaddr=127.0.0.1" : "host=127.0.0.1";
    std::string text = with_password(
        host + " port=" + std::to_string(port) + " user=" + user + " dbname=" + db, user);
    text += ssl_part(sslmode);
    return extra.empty() ? text : text + " " + extra;
}

std::string direct_conninfo(const std::string& user, const std::string& db,
                            const std::string& sslmode, const std::string& extra) {
    std::string text =
        with_password("host=127.0.0.1 port=" + std::to_string(env().cluster().port()) +
                          " user=" + user + " dbname=" + db,
                      user);
    text += ssl_part(sslmode);
    return extra.empty() ? text : text + " " + extra;
}

std::string connect_error(const std::string& conninfo) {
    PgConn::Attempt attempt = PgConn::try_connect(conninfo, soon(), true);
    CHECK_MESSAGE(!attempt.conn, "connected, but should have been refused: " << conninfo);
    return attempt.error;
}

std::string backend_ssl(PgConn& conn) {
    return conn.value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", soon());
}

bool client_ssl(PgConn& conn) {
    return PQsslInUse(conn.get()) == 1;
}

bool log_shows(PgrevProcess& pgrev, const std::string& text) {
    Deadline deadline = soon();
    while (pgrev.log_text().find(text) == std::string::npos) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return true;
}

}  // namespace pgrev::it::tls_it
