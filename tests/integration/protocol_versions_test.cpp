// Protocol versions through pgrev (issue 7, item 19): a client may ask for protocol 3.2
// (PostgreSQL 18, libpq 18 with max_protocol_version=latest), for a minor version or a `_pq_.`
// option the server does not know (the server answers NegotiateProtocolVersion), and a 3.2
// session's cancel key is longer than 3.0's 4 bytes. Through pgrev the client must get what the
// server gives it directly, and its CancelRequest must work.
//
// These run against whatever server the harness starts (PostgreSQL 15 of the host, or 17 / 18
// from a Debian root: PGREV_TEST_PG_ROOT, see scripts/pg-roots.sh) and need psql 18 from a
// root: PGREV_TEST_PSQL_ROOT (the `pg18` root). ctest runs them as protocol_pg15 and
// protocol_pg18.
#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>
#include <thread>

#include "pq_conn.h"
#include "raw_client.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(5));
}

constexpr std::uint32_t kProtocol30 = 3u << 16;
constexpr std::uint32_t kProtocol32 = (3u << 16) | 2;

// What the server speaks at most: 3.2 from PostgreSQL 18 on, 3.0 before.
std::uint32_t server_latest_protocol() {
    PgConn conn = PgConn::connect(TestEnv::get().direct(), soon());
    int version = std::stoi(conn.value("SHOW server_version_num", soon()));
    return version >= 180000 ? kProtocol32 : kProtocol30;
}

std::string version_text(std::uint32_t version) {
    return std::to_string(version >> 16) + "." + std::to_string(version & 0xffff);
}

std::string startup_with(std::uint32_t version,
                         const std::vector<std::pair<std::string, std::string>>& extra) {
    std::string body = be32(version) + "user" + std::string(1, '\0') + "postgres" +
                       std::string(1, '\0') + "database" + std::string(1, '\0') + "app" +
                       std::string(1, '\0');
    for (const auto& [name, value] : extra)
        body += name + std::string(1, '\0') + value + std::string(1, '\0');
    body += std::string(1, '\0');
    return be32(static_cast<std::uint32_t>(4 + body.size())) + body;
}

// The login as the client sees it, up to ReadyForQuery: the NegotiateProtocolVersion message
// (empty if none), the length of the cancel key, the process id and the whole key.
struct Login {
    std::string negotiate;  // body of 'v'
    std::size_t key_length = 0;
    std::string key_data;  // body of 'K': process id and secret
    std::string error;     // SQLSTATE if the server refused
};

Login log_in(RawClient& client, const std::string& startup) {
    REQUIRE(client.send_all(startup));
    Login login;
    for (;;) {
        auto message = client.read_message(soon());
        REQUIRE_MESSAGE(message.has_value(), "login did not complete");
        if (message->type == 'v') login.negotiate = message->body;
        if (message->type == 'K') {
            login.key_data = message->body;
            login.key_length = message->body.size() - 4;
        }
        if (message->type == 'E') {
            auto at = message->body.find(std::string(1, '\0') + "C");
            login.error = message->body.substr(at + 2, 5);
            return login;
        }
        if (message->type == 'Z') return login;
    }
}

// Waits until the backend is running pg_sleep, so the cancel cannot arrive too early.
void wait_until_sleeping(PgConn& observer, const std::string& application_name) {
    Deadline deadline = soon();
    for (;;) {
        std::string active = observer.value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" + application_name +
                "' AND state = 'active' AND query LIKE '%pg_sleep%'",
            soon());
        if (active == "1") return;
        REQUIRE_MESSAGE(Clock::now() < deadline, "the query never started on the server");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

// psql 18 of the `pg18` root, or a failed test saying how to get it.
std::string psql18_root() {
    const char* root = std::getenv("PGREV_TEST_PSQL_ROOT");
    REQUIRE_MESSAGE(root != nullptr,
                    "PGREV_TEST_PSQL_ROOT is not set: these tests need psql 18 from a Debian root "
                    "(bash scripts/pg-roots.sh pg18; ctest runs them with it set)");
    return root;
}
const char* const kPsql18 = "/usr/lib/postgresql/18/bin/psql";

struct Psql {
    std::string binary;
    std::string root;  // empty: the host's
};

std::vector<std::string> psql_argv(const Psql& psql, const std::string& conninfo,
                                   const std::string& command) {
    return {psql.binary,         "-X", "-A",     "-t", "-v",
            "VERBOSITY=verbose", "-d", conninfo, "-c", command};
}

// psql -c `SELECT pg_sleep(30)`, SIGINT (psql sends a CancelRequest), and what psql says.
void check_psql_cancels(const Psql& psql, const std::string& conninfo, const std::string& name) {
    TestEnv& env = TestEnv::get();
    PgConn observer = PgConn::connect(env.direct(), soon());
    std::string dir = env.cluster().dir();
    SpawnOptions options;
    options.argv = psql_argv(psql, conninfo + " application_name=" + name, "SELECT pg_sleep(30)");
    options.stdout_path = dir + "/" + name + ".out";
    options.stderr_path = dir + "/" + name + ".err";
    options.root_dir = psql.root;
    options.signal_on_parent_death = SIGKILL;
    ChildProcess child = ChildProcess::spawn(options);
    wait_until_sleeping(observer, name);
    auto started = Clock::now();
    child.send_signal(SIGINT);
    std::optional<int> status = child.wait_for(std::chrono::seconds(5));
    std::string said = read_file(options.stderr_path);
    REQUIRE_MESSAGE(status.has_value(), "psql still runs 5 s after SIGINT: the cancel was lost");
    CHECK(Clock::now() - started < std::chrono::seconds(5));
    CHECK(*status == 1);
    CHECK_MESSAGE(said.find("57014") != std::string::npos, said);
    CHECK_MESSAGE(said.find("canceling statement due to user request") != std::string::npos, said);
}

}  // namespace

TEST_CASE("a StartupMessage of 3.2, 3.x or with _pq_. options is answered as the server would") {
    TestEnv& env = TestEnv::get();
    std::uint32_t latest = server_latest_protocol();
    struct Case {
        std::string story;
        std::string startup;
    };
    const Case cases[] = {
        {"3.0", startup_with(kProtocol30, {})},
        {"3.2", startup_with(kProtocol32, {})},
        {"3.1", startup_with((3u << 16) | 1, {})},
        {"3.9 with a _pq_. option", startup_with((3u << 16) | 9, {{"_pq_.no_such_option", "1"}})},
        {"3.0 with a _pq_. option", startup_with(kProtocol30, {{"_pq_.no_such_option", "1"}})},
        {"4.0", startup_with(4u << 16, {})},
    };
    for (const Case& c : cases) {
        CAPTURE(c.story);
        RawClient direct = RawClient::connect(env.cluster().port(), soon());
        RawClient proxied = RawClient::connect(env.proxy_port(), soon());
        Login expected = log_in(direct, c.startup);
        Login got = log_in(proxied, c.startup);
        CHECK(got.negotiate == expected.negotiate);  // NegotiateProtocolVersion passes through
        CHECK(got.key_length == expected.key_length);
        CHECK(got.error == expected.error);
        if (c.story == "4.0") CHECK(got.error == "0A000");
    }
    // Not a hard-coded expectation: the server's own answer. PostgreSQL 18 gives a 3.2 client
    // a 32-byte key, and a 3.0 client (or any client of an older server) 4 bytes.
    RawClient client = RawClient::connect(env.proxy_port(), soon());
    Login login = log_in(client, startup_with(kProtocol32, {}));
    CHECK(login.key_length == (latest == kProtocol32 ? 32u : 4u));
}

TEST_CASE("a CancelRequest with the session's key, of either length, cancels through pgrev") {
    TestEnv& env = TestEnv::get();
    std::uint32_t latest = server_latest_protocol();
    for (std::uint32_t version : {kProtocol30, kProtocol32}) {
        CAPTURE(version_text(version));
        RawClient session = RawClient::connect(env.proxy_port(), soon());
        std::string name = "raw_cancel_" + std::to_string(version & 0xffff);
        Login login = log_in(session, startup_with(version, {{"application_name", name}}));
        REQUIRE(login.error.empty());
        CHECK(login.key_length == (version == kProtocol32 && latest == kProtocol32 ? 32u : 4u));
        REQUIRE(session.send_all(query_message("SELECT pg_sleep(30)")));
        PgConn observer = PgConn::connect(env.direct(), soon());
        wait_until_sleeping(observer, name);

        auto started = Clock::now();
        RawClient cancel = RawClient::connect(env.proxy_port(), soon());
        cancel.send_all(be32(static_cast<std::uint32_t>(8 + login.key_data.size())) +
                        be32(80877102) + login.key_data);
        std::string sqlstate;
        for (;;) {
            auto message = session.read_message(soon());
            REQUIRE_MESSAGE(message.has_value(), "no answer 5 s after the cancel");
            if (message->type == 'E') {
                auto at = message->body.find(std::string(1, '\0') + "C");
                sqlstate = message->body.substr(at + 2, 5);
            }
            if (message->type == 'Z') break;
        }
        CHECK(sqlstate == "57014");
        CHECK(Clock::now() - started < std::chrono::seconds(5));
        // The cancel connection is closed by pgrev, as PostgreSQL closes it.
        CHECK(cancel.read_until_closed(soon()).closed);
    }
}

TEST_CASE("psql 18 asking for the latest protocol gets through pgrev what it gets directly") {
    TestEnv& env = TestEnv::get();
    Psql psql{kPsql18, psql18_root()};
    std::uint32_t latest = server_latest_protocol();
    for (const char* max : {"latest", "3.0"}) {
        CAPTURE(max);
        std::string extra = std::string("max_protocol_version=") + max;
        std::string command = "SELECT 40 + 2 AS answer";
        auto run = [&](const std::string& conninfo, const std::string& what) {
            CommandResult r = run_command(psql_argv(psql, conninfo, what), {},
                                          std::chrono::seconds(20), std::nullopt, psql.root);
            REQUIRE_MESSAGE(r.exit_status == 0, r.describe());
            return r.out;
        };
        CHECK(run(env.proxied("postgres", "app", extra), command) == "42\n");
        std::string direct_info = run(env.direct("postgres", "app", extra), "\\conninfo");
        std::string proxied_info = run(env.proxied("postgres", "app", extra), "\\conninfo");
        auto protocol_line = [](const std::string& info) {
            auto at = info.find("Protocol Version");
            return at == std::string::npos ? std::string("none")
                                           : info.substr(at, info.find('\n', at) - at);
        };
        std::string expected = std::string(max) == "latest" ? version_text(latest) : "3.0";
        CHECK(protocol_line(direct_info) == "Protocol Version|" + expected);
        CHECK(protocol_line(proxied_info) == protocol_line(direct_info));
    }
}

TEST_CASE("psql 18 with max_protocol_version=latest cancels SELECT pg_sleep(30) through pgrev") {
    TestEnv& env = TestEnv::get();
    Psql psql{kPsql18, psql18_root()};
    check_psql_cancels(psql, env.proxied("postgres", "app", "max_protocol_version=latest"),
                       "psql18_latest");
    check_psql_cancels(psql, env.proxied("postgres", "app", "max_protocol_version=3.0"),
                       "psql18_30");
}

TEST_CASE("psql 15 (protocol 3.0, 4-byte keys) cancels SELECT pg_sleep(30) through pgrev") {
    Psql psql{std::string(PGREV_HOST_PG_BINDIR) + "/psql", ""};
    check_psql_cancels(psql, TestEnv::get().proxied(), "psql15");
}
