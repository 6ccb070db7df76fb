// pgrev as a TLS server to its clients: tls.client.sslmode = require, client certificates
// (tls.client.ca_file), certificates re-read on SIGHUP, passwords (SCRAM run by pgrev when both
// legs are TLS; never asked for in clear), channel_binding=require, direct TLS with ALPN, and
// the session log line naming each leg.
#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include "raw_client.h"
#include "tls_support.h"

using namespace pgrev::it;
using namespace pgrev::it::tls_it;

namespace {

const std::string kScram = TestRoles::kScramUser;

// The line of pgrev's log that mentions `text`, or empty.
std::string log_line_with(PgrevProcess& pgrev, const std::string& text) {
    log_shows(pgrev, text);
    std::istringstream log(pgrev.log_text());
    for (std::string line; std::getline(log, line);) {
        if (line.find(text) != std::string::npos) return line;
    }
    return "";
}

}  // namespace

TEST_CASE(
    "tls.client.sslmode = require refuses a clear client with FATAL 08P01 naming the setting") {
    PgrevTls tls;
    tls.client_mode = "require";
    auto pgrev = start_pgrev(tls);
    std::string error = connect_error(conninfo(pgrev->port(), kScram, "app", "disable"));
    CHECK_MESSAGE(error.find("08P01") != std::string::npos, error);
    CHECK_MESSAGE(error.find("pgrev: this pgrev accepts only TLS connections "
                             "(tls.client.sslmode = require)") != std::string::npos,
                  error);
    // ... and a client that asks for TLS gets in.
    PgConn conn = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
    CHECK(client_ssl(conn));
    CHECK(backend_ssl(conn) == "t");
}

TEST_CASE("a clear client is never asked for its password in clear: SCRAM without -PLUS") {
    // Upstream TLS: the server offers SCRAM-SHA-256-PLUS, which a clear client cannot use;
    // pgrev strips it, and must not fall back to asking for the password itself (it does that
    // only over the client's TLS connection).
    PgrevTls tls;
    auto pgrev = start_pgrev(tls);
    RawClient raw = RawClient::connect(pgrev->port(), soon());
    REQUIRE(raw.send_all(startup_packet(kScram, "app")));
    std::optional<BackendMessage> request = raw.read_message(soon());
    REQUIRE(request.has_value());
    REQUIRE(request->type == 'R');
    REQUIRE(request->body.size() >= 4);
    CHECK_MESSAGE(request->body.substr(0, 4) == be32(10),
                  "AuthenticationSASL (10) expected, not 3 (cleartext password)");
    // The mechanism names, each NUL-terminated, then an empty one.
    CHECK(request->body.substr(4) == std::string("SCRAM-SHA-256\0\0", 15));
}

TEST_CASE("tls.client.ca_file: a certificate of that CA gets in, another CA's or none does not") {
    PgrevTls tls;
    tls.client_mode = "require";
    tls.client_ca = certs().client_ca;
    auto pgrev = start_pgrev(tls);
    auto with_cert = [&](const CertAndKey& files) {
        return conninfo(pgrev->port(), kScram, "app", "verify-full",
                        "sslcert=" + files.cert + " sslkey=" + files.key);
    };
    SUBCASE("good certificate") {
        PgConn conn = PgConn::connect(with_cert(certs().good_client), soon());
        CHECK(client_ssl(conn));
        CHECK(conn.value("SELECT current_user", soon()) == kScram);
    }
    SUBCASE("certificate of another CA") {
        std::string error = connect_error(with_cert(certs().bad_client));
        CHECK_MESSAGE(error.find("unknown ca") != std::string::npos, error);
    }
    SUBCASE("no certificate") {
        // No default one either: ~/.postgresql/postgresql.crt must not be picked up.
        std::string error = connect_error(
            conninfo(pgrev->port(), kScram, "app", "verify-full", "sslcert=/nonexistent/none.crt"));
        CHECK_MESSAGE(error.find("certificate required") != std::string::npos, error);
    }
    // pgrev goes on serving after refusing handshakes.
    PgConn conn = PgConn::connect(with_cert(certs().good_client), soon());
    CHECK(conn.value("SELECT 'still serving'", soon()) == "still serving");
}

TEST_CASE("SIGHUP: a rotated certificate is presented to new connections; a broken one is not") {
    std::string dir = env().cluster().dir() + "/rotation";
    std::filesystem::create_directories(dir);
    CertAndKey files{dir + "/pgrev.crt", dir + "/pgrev.key"};
    using std::filesystem::copy_options;
    std::filesystem::copy_file(certs().pgrev.cert, files.cert, copy_options::overwrite_existing);
    std::filesystem::copy_file(certs().pgrev.key, files.key, copy_options::overwrite_existing);
    PgrevTls tls;
    tls.client_cert = files.cert;
    tls.client_key = files.key;
    auto pgrev = start_pgrev(tls);
    const std::string first = certificate_serial(certs().pgrev.cert);
    const std::string rotated = certificate_serial(certs().pgrev_rotated.cert);
    REQUIRE(first != rotated);
    CHECK(presented_serial(pgrev->port()) == first);
    PgConn before = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());

    // Overwritten in place, as a certificate manager does, then SIGHUP.
    write_file(files.cert, read_file(certs().pgrev_rotated.cert));
    write_file(files.key, read_file(certs().pgrev_rotated.key));
    pgrev->reload();
    Deadline deadline = soon();
    std::string presented = presented_serial(pgrev->port());
    while (presented != rotated && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        presented = presented_serial(pgrev->port());
    }
    CHECK_MESSAGE(presented == rotated, "a new connection after SIGHUP sees the new certificate");
    PgConn after = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
    CHECK(after.value("SELECT 'after rotation'", soon()) == "after rotation");
    CHECK_MESSAGE(before.value("SELECT 'opened before'", soon()) == "opened before",
                  "a session opened before the rotation goes on");

    // A file that does not load: pgrev says which, and keeps the certificate it has.
    write_file(files.cert, "this is not a certificate\n");
    pgrev->reload();
    std::string error = log_line_with(*pgrev, files.cert);
    CHECK_MESSAGE(!error.empty(), "no log line names " << files.cert << ":\n" << pgrev->log_text());
    CHECK(presented_serial(pgrev->port()) == rotated);
    PgConn still = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
    CHECK(still.value("SELECT 'old certificate kept'", soon()) == "old certificate kept");
    CHECK(pgrev->running());
}

TEST_CASE("channel_binding=require through pgrev fails with libpq naming channel binding") {
    PgrevTls tls;  // TLS both legs: pgrev terminates the client's TLS, it cannot bind for it
    auto pgrev = start_pgrev(tls);
    // Directly it works: the server binds the exchange to its own certificate.
    PgConn direct = PgConn::connect(
        direct_conninfo(kScram, "app", "verify-full", "channel_binding=require"), soon());
    CHECK(direct.value("SELECT 'bound'", soon()) == "bound");
    // libpq (15) refuses pgrev's request for the password on a TLS leg, and a clear leg at once.
    const std::string on_tls =
        "channel binding required but not supported by server's "
        "authentication request";
    const std::string on_clear = "channel binding required, but SSL not in use";
    for (const std::string& client_mode :
         std::vector<std::string>{"require", "verify-full", "disable"}) {
        CAPTURE(client_mode);
        std::string error = connect_error(
            conninfo(pgrev->port(), kScram, "app", client_mode, "channel_binding=require"));
        CHECK_MESSAGE(error.find(client_mode == "disable" ? on_clear : on_tls) != std::string::npos,
                      error);
    }
    PgConn conn = PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
    CHECK(conn.value("SELECT 'unbound still works'", soon()) == "unbound still works");
}

TEST_CASE("the session log line says whether each leg is TLS") {
    PgrevTls tls;
    tls.upstream_mode = "require";
    auto pgrev = start_pgrev(tls);
    {
        PgConn tls_client = PgConn::connect(
            conninfo(pgrev->port(), kScram, "app", "require", "application_name=tls-both-legs"),
            soon());
        PgConn clear_client = PgConn::connect(
            conninfo(pgrev->port(), kScram, "app", "disable", "application_name=tls-upstream-only"),
            soon());
        CHECK(tls_client.value("SELECT 1", soon()) == "1");
        CHECK(clear_client.value("SELECT 1", soon()) == "1");
    }
    std::string both = log_line_with(*pgrev, "application_name=tls-both-legs");
    CHECK_MESSAGE(both.find("client TLS") != std::string::npos, both);
    std::string upstream_only = log_line_with(*pgrev, "application_name=tls-upstream-only");
    CHECK_MESSAGE(upstream_only.find("client clear") != std::string::npos, upstream_only);
    CHECK_MESSAGE(log_shows(*pgrev, "upstream TLS"), pgrev->log_text());
    CHECK_MESSAGE(pgrev->log_text().find("upstream clear") == std::string::npos, pgrev->log_text());
}

TEST_CASE("a wrong password through two TLS legs gets PostgreSQL's own 28P01, as directly") {
    auto pgrev = start_pgrev(PgrevTls{});
    const std::string wrong = "password=not-the-password";
    const std::string expected =
        "28P01: password authentication failed for user \"" + kScram + "\"";
    std::string direct = connect_error(direct_conninfo(kScram, "app", "verify-full", wrong));
    CHECK_MESSAGE(direct.find(expected) != std::string::npos, direct);
    std::string proxied =
        connect_error(conninfo(pgrev->port(), kScram, "app", "verify-full", wrong));
    CHECK_MESSAGE(proxied.find(expected) != std::string::npos, proxied);
}

TEST_CASE("a UTF-8 password SASLprep leaves as it is works through two TLS legs") {
    // pgrev runs SCRAM with the password's bytes; NFC text without mapped characters is what
    // SASLprep gives back unchanged.
    PgConn admin = PgConn::connect(direct_conninfo("postgres", "app", "require"), soon());
    admin.run_one("CREATE ROLE utf8user LOGIN PASSWORD 'p\u00e4ssw\u00f6rd-\u00df'", soon(),
                  PGRES_COMMAND_OK);
    const std::string password = "password='p\u00e4ssw\u00f6rd-\u00df'";
    auto pgrev = start_pgrev(PgrevTls{});
    {
        PgConn direct =
            PgConn::connect(direct_conninfo("utf8user", "app", "verify-full", password), soon());
        CHECK(direct.value("SELECT current_user", soon()) == "utf8user");
        PgConn conn = PgConn::connect(
            conninfo(pgrev->port(), "utf8user", "app", "verify-full", password), soon());
        CHECK(conn.value("SELECT current_user", soon()) == "utf8user");
        CHECK(client_ssl(conn));
        CHECK(backend_ssl(conn) == "t");
    }
    admin.run_one("DROP ROLE utf8user", soon(), PGRES_COMMAND_OK);
}

TEST_CASE("a client that opens with the TLS handshake must offer ALPN postgresql") {
    // PostgreSQL 17's sslnegotiation=direct; openssl s_client stands in for the client here
    // (libpq 15 cannot do it; psql 18 does in psql18_test.cpp).
    auto pgrev = start_pgrev(PgrevTls{});
    auto s_client = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> argv = {"/usr/bin/openssl",
                                         "s_client",
                                         "-connect",
                                         "127.0.0.1:" + std::to_string(pgrev->port()),
                                         "-CAfile",
                                         certs().ca,
                                         "-verify_return_error"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_command(argv, {}, std::chrono::seconds(10));
    };
    CommandResult with_alpn = s_client({"-alpn", "postgresql"});
    CHECK_MESSAGE(with_alpn.out.find("ALPN protocol: postgresql") != std::string::npos,
                  with_alpn.describe());
    CHECK_MESSAGE(with_alpn.out.find("Verify return code: 0 (ok)") != std::string::npos,
                  with_alpn.describe());
    CommandResult without = s_client({});
    CHECK_MESSAGE(log_shows(*pgrev, "closed: direct TLS connection without ALPN \"postgresql\""),
                  pgrev->log_text() << without.describe());
}

TEST_CASE("the password pgrev asks for when both legs are TLS never reaches its log") {
    PgrevOptions options = env().pgrev_options();
    options.tls = tls_yaml(PgrevTls{});
    options.log_level = "trace";  // the most pgrev ever says
    auto pgrev = env().start_pgrev(options);
    {
        PgConn conn =
            PgConn::connect(conninfo(pgrev->port(), kScram, "app", "verify-full"), soon());
        CHECK(conn.value("SELECT 'in'", soon()) == "in");
    }
    connect_error(conninfo(pgrev->port(), kScram, "app", "verify-full", "password=wrong-secret-x"));
    CHECK(log_shows(*pgrev, "password authentication failed"));
    std::string log = pgrev->log_text();
    CHECK_MESSAGE(log.find(TestRoles::kScramPassword) == std::string::npos, log);
    CHECK_MESSAGE(log.find("wrong-secret-x") == std::string::npos, log);
}

TEST_CASE("limits.startup_timeout while pgrev waits for the password of a TLS client") {
    // Both legs TLS, SCRAM: pgrev has asked for the password and the client never answers.
    // The timeout must end the exchange with pgrev's FATAL over the client's TLS connection
    // (not with a second write racing the one of the password request).
    PgrevOptions options = env().pgrev_options();
    options.tls = tls_yaml(PgrevTls{});
    options.limits.startup_timeout = "1s";
    auto pgrev = env().start_pgrev(options);
    // StartupMessage for scramuser / app, then silence for longer than the timeout.
    const std::string script =
        "(printf '\\000\\000\\000\\045\\000\\003\\000\\000user\\000scramuser\\000"
        "database\\000app\\000\\000'; sleep 3) | /usr/bin/openssl s_client -quiet -starttls "
        "postgres -connect 127.0.0.1:" +
        std::to_string(pgrev->port()) + " -CAfile " + certs().ca;
    CommandResult r = run_command({"/bin/sh", "-c", script}, {}, std::chrono::seconds(10));
    const std::string password_request("R\0\0\0\x08\0\0\0\x03", 9);
    CHECK_MESSAGE(r.out.find(password_request) == 0, r.describe());
    CHECK_MESSAGE(r.out.find("C08006") != std::string::npos, r.describe());
    CHECK_MESSAGE(r.out.find("pgrev: startup did not finish in time (limits.startup_timeout)") !=
                      std::string::npos,
                  r.describe());
    CHECK_MESSAGE(log_shows(*pgrev, "startup not finished within limits.startup_timeout"),
                  pgrev->log_text());
}
