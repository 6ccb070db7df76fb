// psql 18 (libpq 18, from the `pg18` Debian root: PGREV_TEST_PSQL_ROOT, see scripts/pg-roots.sh)
// through pgrev with TLS: opening with the TLS handshake itself (sslnegotiation=direct, ALPN
// postgresql), and require_auth, which libpq 15 does not have. ctest runs these as tls_psql18
// (they need the pg_roots fixture); tls_integration leaves them out.
#include <doctest/doctest.h>

#include <cstdlib>

#include "tls_support.h"

using namespace pgrev::it;
using namespace pgrev::it::tls_it;

namespace {

const std::string kScram = TestRoles::kScramUser;
const char* const kPsql18 = "/usr/lib/postgresql/18/bin/psql";

std::string psql18_root() {
    const char* root = std::getenv("PGREV_TEST_PSQL_ROOT");
    REQUIRE_MESSAGE(root != nullptr,
                    "PGREV_TEST_PSQL_ROOT is not set: these tests need psql 18 from a Debian root "
                    "(bash scripts/pg-roots.sh pg18; ctest runs them as tls_psql18)");
    return root;
}

CommandResult psql18(const std::string& conninfo, const std::string& command) {
    return run_command({kPsql18, "-X", "-A", "-t", "-d", conninfo, "-c", command}, {},
                       std::chrono::seconds(20), std::nullopt, psql18_root());
}

}  // namespace

TEST_CASE("psql 18 with sslnegotiation=direct: TLS from the first byte, ALPN postgresql") {
    auto pgrev = start_pgrev(PgrevTls{});
    const std::string direct_tls = "sslnegotiation=direct";
    CommandResult info =
        psql18(conninfo(pgrev->port(), kScram, "app", "verify-full", direct_tls), "\\conninfo");
    REQUIRE_MESSAGE(info.exit_status == 0, info.describe());
    CHECK_MESSAGE(info.out.find("SSL Connection|true") != std::string::npos, info.out);
    CHECK_MESSAGE(info.out.find("ALPN|postgresql") != std::string::npos, info.out);
    CommandResult upstream =
        psql18(conninfo(pgrev->port(), kScram, "app", "verify-full", direct_tls),
               "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()");
    CHECK_MESSAGE(upstream.out == "t\n", upstream.describe());
    // The control: PostgreSQL 15 itself does not take a direct TLS handshake, so psql 18 really
    // negotiated directly above (it does not fall back to an SSLRequest).
    CommandResult refused =
        psql18(direct_conninfo(kScram, "app", "verify-full", direct_tls), "SELECT 1");
    CHECK_MESSAGE(refused.exit_status != 0, refused.describe());
}

TEST_CASE("psql 18 with require_auth: scram-sha-256 fails when both legs are TLS, password works") {
    // The README's consequence of pgrev running SCRAM itself when both legs are TLS: it asks the
    // client for the password in cleartext (over the client's TLS connection).
    auto pgrev = start_pgrev(PgrevTls{});
    CommandResult scram =
        psql18(conninfo(pgrev->port(), kScram, "app", "verify-full", "require_auth=scram-sha-256"),
               "SELECT 1");
    CHECK(scram.exit_status != 0);
    CHECK_MESSAGE(scram.err.find("authentication method requirement \"scram-sha-256\" failed: "
                                 "server requested a cleartext password") != std::string::npos,
                  scram.describe());
    CommandResult password = psql18(
        conninfo(pgrev->port(), kScram, "app", "verify-full", "require_auth=password"), "SELECT 1");
    CHECK_MESSAGE(password.out == "1\n", password.describe());
    // A clear client leg: pgrev passes SCRAM through (without -PLUS), so scram-sha-256 holds.
    CommandResult clear =
        psql18(conninfo(pgrev->port(), kScram, "app", "disable", "require_auth=scram-sha-256"),
               "SELECT 1");
    CHECK_MESSAGE(clear.out == "1\n", clear.describe());
}
