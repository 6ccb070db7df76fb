// The matrix of issue 8: client sslmode (disable, prefer, require, verify-full against pgrev's
// certificate) x upstream sslmode (disable where the server allows it, require, verify-full) x
// authentication (scram-sha-256, md5, trust), with libpq's defaults otherwise (channel_binding
// unset, i.e. prefer). Every cell connects and runs the same session directly and through pgrev
// (same rows, tags, errors, notices, simple and extended protocol; an audited write makes its
// revision), and checks which legs are TLS: the client's with PQsslInUse, the upstream's with
// pg_stat_ssl as the server sees it.
// Where the server does not allow the upstream leg (clear, to a hostssl-only database) the
// cell fails with the server's own error, as it does directly.
#include <doctest/doctest.h>

#include <map>
#include <optional>

#include "differential.h"
#include "tls_support.h"

using namespace pgrev::it;
using namespace pgrev::it::tls_it;

namespace {

const std::vector<std::string> kClientModes = {"disable", "prefer", "require", "verify-full"};
const std::vector<std::string> kAuthMethods = {"scram-sha-256", "md5", "trust"};

std::string role_for(const std::string& auth) {
    if (auth == "scram-sha-256") return TestRoles::kScramUser;
    if (auth == "md5") return TestRoles::kMd5User;
    return TestRoles::kSuperuser;
}

// One pgrev per upstream mode, tls.client.sslmode = prefer with pgrev's certificate; started
// on first use and kept for the whole run.
PgrevProcess& pgrev_for(const std::string& upstream_mode) {
    static std::map<std::string, std::unique_ptr<PgrevProcess>> instances;
    auto& instance = instances[upstream_mode];
    if (!instance) {
        PgrevTls tls;
        tls.upstream_mode = upstream_mode;
        instance = start_pgrev(tls);
    }
    return *instance;
}

const std::string kRevisions = "SELECT count(*) FROM reservation_rev WHERE name = ";

void check_cell(const std::string& client_mode, const std::string& upstream_mode,
                const std::string& auth) {
    std::string user = role_for(auth);
    std::string db = upstream_mode == "disable" ? kClearDatabase : "app";
    std::string label = "client " + client_mode + ", upstream " + upstream_mode + ", " + auth;
    PgrevProcess& pgrev = pgrev_for(upstream_mode);
    const std::string pgrev_port = std::to_string(pgrev.port());
    const std::string name = "'tls matrix: " + label + "'";

    std::optional<bool> client_tls;
    std::optional<std::string> upstream_tls;
    std::optional<std::string> revisions_inside;
    auto session = [&](PgConn& c, Transcript& t) {
        const bool via_pgrev = PQport(c.get()) == pgrev_port;
        if (via_pgrev) client_tls = client_ssl(c);
        // Directly the connection mirrors pgrev's upstream leg (sslmode = upstream mode).
        t.query("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", soon());
        t.query("SELECT current_user, session_user, current_database()", soon());
        t.query("SELECT 1/0", soon());
        t.query("DO $$BEGIN RAISE NOTICE 'a notice through %', 'TLS'; END$$", soon());
        const char* values[] = {"41"};  // the extended protocol, with a parameter
        if (PQsendQueryParams(c.get(), "SELECT $1::int + 1 AS answer", 1, nullptr, values, nullptr,
                              nullptr, 0) == 1) {
            t.rest_of_command("params", soon());
        }
        t.query("BEGIN", soon());
        t.query(
            "INSERT INTO reservation (name, party) VALUES (" + name + ", 2) RETURNING name, party",
            soon());
        if (via_pgrev) revisions_inside = c.value(kRevisions + name, soon());
        t.query("ROLLBACK", soon());
        if (via_pgrev) upstream_tls = backend_ssl(c);
    };
    expect_transparent_between(label, session, direct_conninfo(user, db, upstream_mode),
                               conninfo(pgrev.port(), user, db, client_mode));
    REQUIRE_MESSAGE(client_tls.has_value(), "the session through pgrev did not start");
    CHECK_MESSAGE(*client_tls == (client_mode != "disable"), "client leg TLS (PQsslInUse)");
    REQUIRE_MESSAGE(upstream_tls.has_value(), "the session through pgrev did not get far");
    CHECK_MESSAGE(*upstream_tls == (upstream_mode == "disable" ? "f" : "t"),
                  "upstream leg TLS (pg_stat_ssl)");
    CHECK_MESSAGE(revisions_inside == std::optional<std::string>("1"),
                  "the audited INSERT made its revision");
    PgConn direct = PgConn::connect(direct_conninfo("postgres", db, "require"), soon());
    CHECK_MESSAGE(direct.value(kRevisions + name, soon()) == "0", "no revision after ROLLBACK");
}

}  // namespace

TEST_CASE("TLS matrix, upstream sslmode = disable (database app_clear, whose hba allows it)") {
    for (const std::string& client_mode : kClientModes) {
        for (const std::string& auth : kAuthMethods) {
            SUBCASE(("client " + client_mode + ", " + auth).c_str()) {
                check_cell(client_mode, "disable", auth);
            }
        }
    }
}

TEST_CASE("TLS matrix, upstream sslmode = require") {
    for (const std::string& client_mode : kClientModes) {
        for (const std::string& auth : kAuthMethods) {
            SUBCASE(("client " + client_mode + ", " + auth).c_str()) {
                check_cell(client_mode, "require", auth);
            }
        }
    }
}

TEST_CASE("TLS matrix, upstream sslmode = verify-full against PostgreSQL's certificate") {
    for (const std::string& client_mode : kClientModes) {
        for (const std::string& auth : kAuthMethods) {
            SUBCASE(("client " + client_mode + ", " + auth).c_str()) {
                check_cell(client_mode, "verify-full", auth);
            }
        }
    }
}

TEST_CASE("TLS matrix, upstream sslmode = disable where the server requires TLS: its error") {
    // Database app has only hostssl lines: the server refuses pgrev's clear connection, and the
    // client sees the server's FATAL, as a clear direct connection does.
    for (const std::string& client_mode : kClientModes) {
        for (const std::string& auth : kAuthMethods) {
            SUBCASE(("client " + client_mode + ", " + auth).c_str()) {
                std::string user = role_for(auth);
                std::string expected = "no pg_hba.conf entry for host \"127.0.0.1\", user \"" +
                                       user + "\", database \"app\", no encryption";
                std::string direct = connect_error(direct_conninfo(user, "app", "disable"));
                CHECK_MESSAGE(direct.find(expected) != std::string::npos, direct);
                std::string proxied =
                    connect_error(conninfo(pgrev_for("disable").port(), user, "app", client_mode));
                CHECK_MESSAGE(proxied.find(expected) != std::string::npos, proxied);
                CHECK_MESSAGE(proxied.find("28000") != std::string::npos, proxied);
            }
        }
    }
}
