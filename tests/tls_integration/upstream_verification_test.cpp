// How pgrev as a TLS client of PostgreSQL checks the server, and what the client sees when the
// check fails: a FATAL 08006 naming tls.upstream.sslmode and OpenSSL's reason (wrong CA,
// expired certificate, another host's name; a server that does not accept TLS), and a log
// line saying the same; upstream prefer (the default) and allow; the CA file re-read on SIGHUP;
// pgrev's own client certificate. The servers that present the odd certificates are real
// ones: a second pgrev in front of the cluster, with that certificate as its
// tls.client.cert_file.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "tls_support.h"

using namespace pgrev::it;
using namespace pgrev::it::tls_it;

namespace {

const std::string kScram = TestRoles::kScramUser;

// A pgrev in front of the cluster that presents `cert` to its clients (or answers an
// SSLRequest with N when `cert` is empty), for another pgrev to connect to.
std::unique_ptr<PgrevProcess> start_front(const CertAndKey* cert) {
    PgrevOptions options = env().pgrev_options();
    std::string client = cert == nullptr ? "{sslmode: disable}"
                                         : "{sslmode: require, cert_file: " + cert->cert +
                                               ", key_file: " + cert->key + "}";
    options.tls =
        "{client: " + client + ", upstream: {sslmode: verify-full, ca_file: " + certs().ca + "}}";
    return env().start_pgrev(options);
}

// A pgrev whose upstream is `upstream_port`, with tls.upstream.sslmode = `mode` against the CA.
std::unique_ptr<PgrevProcess> start_client_of(std::uint16_t upstream_port,
                                              const std::string& mode) {
    PgrevTls tls;
    tls.upstream_mode = mode;
    tls.upstream_ca = certs().ca;
    PgrevOptions options = env().pgrev_options();
    options.upstream_port = upstream_port;
    options.tls = tls_yaml(tls);
    return env().start_pgrev(options);
}

// The FATAL pgrev sends when its TLS connection to `port` fails under `mode` for `reason`.
std::string failed_upstream(std::uint16_t port, const std::string& mode,
                            const std::string& reason) {
    return "pgrev: TLS connection to the PostgreSQL server at 127.0.0.1:" + std::to_string(port) +
           " failed (tls.upstream.sslmode = " + mode + "): " + reason;
}

}  // namespace

TEST_CASE("a wrong upstream CA under verify-full: FATAL naming tls.upstream.sslmode and why") {
    PgrevTls tls;
    tls.upstream_ca = certs().wrong_ca;
    auto pgrev = start_pgrev(tls);
    for (const std::string& client_mode : std::vector<std::string>{"disable", "verify-full"}) {
        CAPTURE(client_mode);
        std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", client_mode));
        CHECK_MESSAGE(error.find("08006") != std::string::npos, error);
        // OpenSSL's reason (X509_verify_cert_error_string) for a chain that does not end at
        // the configured CA.
        std::string expected = failed_upstream(env().cluster().port(), "verify-full",
                                               "unable to get local issuer certificate");
        CHECK_MESSAGE(error.find(expected) != std::string::npos, error);
    }
    // pgrev's own catalog connection (libpq) verifies with the same CA file, and fails alike.
    CHECK_MESSAGE(log_shows(*pgrev, "SSL error: certificate verify failed"), pgrev->log_text());
    CHECK_MESSAGE(log_shows(*pgrev,
                            "(tls.upstream.sslmode = verify-full): unable to get local "
                            "issuer certificate"),
                  pgrev->log_text());
}

TEST_CASE("tls.upstream.sslmode = require and a server that answers N: FATAL naming the setting") {
    auto no_tls = start_front(nullptr);  // tls.client.sslmode = disable: it answers N
    auto pgrev = start_client_of(no_tls->port(), "require");
    std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", "verify-full"));
    CHECK_MESSAGE(error.find("08006") != std::string::npos, error);
    CHECK_MESSAGE(
        error.find("pgrev: the PostgreSQL server at 127.0.0.1:" + std::to_string(no_tls->port()) +
                   " does not accept TLS (tls.upstream.sslmode = require)") != std::string::npos,
        error);
    // Through the clear pgrev alone the same client gets in (it asks for no TLS there).
    PgConn conn = PgConn::connect(conninfo(no_tls->port(), kScram, "app", "disable"), soon());
    CHECK(backend_ssl(conn) == "t");
}

TEST_CASE("without a tls section pgrev reaches a TLS-only server (upstream prefer, like libpq)") {
    auto pgrev = env().start_pgrev(env().pgrev_options());
    for (const std::string& user : std::vector<std::string>{kScram, TestRoles::kMd5User}) {
        CAPTURE(user);
        PgConn conn = PgConn::connect(conninfo(pgrev->port(), user, "app", "prefer"), soon());
        CHECK_FALSE(client_ssl(conn));  // no certificate: the SSLRequest is answered N
        CHECK(backend_ssl(conn) == "t");
    }
    std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", "require"));
    CHECK_MESSAGE(
        error.find("server does not support SSL, but SSL was required") != std::string::npos,
        error);
}

TEST_CASE("an expired upstream certificate: FATAL naming the setting and OpenSSL's reason") {
    auto expired = start_front(&certs().expired);
    // pgrev loads it (OpenSSL does), but says at once that peers will refuse it.
    CHECK_MESSAGE(log_shows(*expired, certs().expired.cert + "): the certificate has expired"),
                  expired->log_text());
    for (const std::string& mode : std::vector<std::string>{"verify-ca", "verify-full"}) {
        CAPTURE(mode);
        auto pgrev = start_client_of(expired->port(), mode);
        std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", "verify-full"));
        CHECK_MESSAGE(error.find("08006") != std::string::npos, error);
        std::string expected = failed_upstream(expired->port(), mode, "certificate has expired");
        CHECK_MESSAGE(error.find(expected) != std::string::npos, error);
        CHECK_MESSAGE(log_shows(*pgrev, expected.substr(std::string("pgrev: ").size())),
                      pgrev->log_text());
    }
}

TEST_CASE("an upstream certificate for another host: refused under verify-full, not verify-ca") {
    auto misnamed = start_front(&certs().wrong_name);
    {
        auto pgrev = start_client_of(misnamed->port(), "verify-full");
        std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", "verify-full"));
        CHECK_MESSAGE(error.find("08006") != std::string::npos, error);
        // The certificate names other.example; pgrev connects to 127.0.0.1.
        CHECK_MESSAGE(
            error.find(failed_upstream(misnamed->port(), "verify-full", "")) != std::string::npos,
            error);
        CHECK_MESSAGE(error.find("IP address mismatch") != std::string::npos, error);
    }
    // verify-ca checks the chain only, like libpq.
    auto pgrev = start_client_of(misnamed->port(), "verify-ca");
    PgConn conn = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
    CHECK(conn.value("SELECT current_user", soon()) == kScram);
}

TEST_CASE("tls.upstream.cert_file: pgrev presents its client certificate to PostgreSQL") {
    // Database app_cert authenticates scramuser by certificate (hba method cert), directly and
    // through pgrev alike; the server sees the same subject.
    const std::string client_dn = "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    const CertAndKey& cert = certs().good_client;
    PgConn direct = PgConn::connect(direct_conninfo(kScram, kCertDatabase, "verify-full",
                                                    "sslcert=" + cert.cert + " sslkey=" + cert.key),
                                    soon());
    CHECK(direct.value(client_dn, soon()) == "/CN=" + kScram);
    PgrevTls tls;
    tls.upstream_cert = cert.cert;
    tls.upstream_key = cert.key;
    auto pgrev = start_pgrev(tls);
    PgConn conn =
        PgConn::connect(conninfo(pgrev->port(), kScram, kCertDatabase, "verify-full"), soon());
    CHECK(conn.value(client_dn, soon()) == "/CN=" + kScram);
    CHECK(conn.value("SELECT current_user", soon()) == kScram);

    // Without one the server refuses, and the client sees its FATAL.
    auto without = start_pgrev(PgrevTls{});
    std::string error =
        connect_error(conninfo(without->port(), kScram, kCertDatabase, "verify-full"));
    CHECK_MESSAGE(error.find("28000") != std::string::npos, error);
    CHECK_MESSAGE(error.find("connection requires a valid client certificate") != std::string::npos,
                  error);
}

TEST_CASE("tls.upstream.sslmode = allow: clear where the server takes it, else TLS") {
    PgrevTls tls;
    tls.upstream_mode = "allow";
    auto pgrev = start_pgrev(tls);
    // app_clear has host lines: the clear attempt is accepted.
    PgConn clear =
        PgConn::connect(conninfo(pgrev->port(), kScram, kClearDatabase, "require"), soon());
    CHECK(backend_ssl(clear) == "f");
    // app has hostssl lines only: the server refuses the clear attempt, pgrev tries TLS.
    PgConn tls_leg = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "require"), soon());
    CHECK(backend_ssl(tls_leg) == "t");
    CHECK(tls_leg.value("SELECT current_user", soon()) == kScram);
}

TEST_CASE("SIGHUP re-reads tls.upstream.ca_file: the right CA, once in place, lets sessions in") {
    std::string ca_file = env().cluster().dir() + "/upstream-ca.crt";
    write_file(ca_file, read_file(certs().wrong_ca));
    PgrevTls tls;
    tls.upstream_ca = ca_file;
    auto pgrev = start_pgrev(tls);
    std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", "verify-full"));
    CHECK_MESSAGE(error.find("unable to get local issuer certificate") != std::string::npos, error);
    write_file(ca_file, read_file(certs().ca));
    pgrev->reload();
    Deadline deadline = soon();
    PgConn::Attempt attempt;
    do {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        attempt =
            PgConn::try_connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
    } while (!attempt.conn && Clock::now() < deadline);
    REQUIRE_MESSAGE(attempt.conn, "still refused after SIGHUP: " << attempt.error);
    CHECK(backend_ssl(*attempt.conn) == "t");
}
