// pgrev's limits (README, Limits), each on its own pgrev instance in front of the shared
// PostgreSQL: too many clients, a client message over max_message_size, a client that
// never finishes its startup. Each is answered properly and pgrev goes on serving.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pq_conn.h"
#include "raw_client.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(5));
}

std::string lowercase(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

// Connects, sends `bytes`, closes: with a FIN, or with a RST when `reset` (SO_LINGER 0).
void connect_send_close(std::uint16_t port, const std::string& bytes, bool reset) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    if (!bytes.empty()) CHECK(send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) > 0);
    if (reset) {
        linger abort_on_close{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    close(fd);
}

std::size_t open_fds(pid_t pid) {
    std::size_t count = 0;
    for ([[maybe_unused]] const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
        ++count;
    }
    return count;
}

// How many connections wait in the kernel's accept queue of the listening socket on `port`
// (for a socket in LISTEN, /proc/net/tcp's rx_queue is that queue's length): connections a
// client has made and left may still be there, not yet seen by pgrev.
std::size_t accept_queue(std::uint16_t port) {
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::ifstream in(table);
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            std::string slot, local, remote, state, queues;
            fields >> slot >> local >> remote >> state >> queues;
            constexpr const char* kListen = "0A";
            std::size_t colon = local.rfind(':');
            if (state != kListen || colon == std::string::npos) continue;
            if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
            return std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
        }
    }
    FAIL("no listening socket on port " << port);
    return 0;
}

std::string field(const PGresult* result, int code) {
    const char* value = PQresultErrorField(result, code);
    return value == nullptr ? "" : value;
}

}  // namespace

TEST_CASE(
    "with max_clients: 2 the third client is refused with 53300, and admitted once one "
    "leaves") {
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    PgrevLimits limits;
    limits.max_clients = "2";
    std::unique_ptr<PgrevProcess> pgrev = env.start_pgrev(limits);
    std::string conninfo = env.via_port(pgrev->port(), "postgres", "app");

    std::optional<PgConn> first(PgConn::connect(conninfo, soon()));
    PgConn second = PgConn::connect(conninfo, soon());
    PgConn::Attempt third = PgConn::try_connect(conninfo, soon(), /*verbose_errors=*/true);
    CHECK_FALSE(third.conn);
    CHECK_MESSAGE(third.error.find("53300") != std::string::npos, third.error);
    CHECK_MESSAGE(lowercase(third.error).find("too many") != std::string::npos, third.error);
    CHECK(first->value("SELECT 'first still works'", soon()) == "first still works");
    CHECK(second.value("SELECT 'second still works'", soon()) == "second still works");

    first.reset();  // one leaves: a new client gets in (allow pgrev a moment to notice)
    Deadline deadline = deadline_in(std::chrono::seconds(3));
    PgConn::Attempt fourth = PgConn::try_connect(conninfo, soon(), true);
    while (!fourth.conn && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        fourth = PgConn::try_connect(conninfo, soon(), true);
    }
    REQUIRE_MESSAGE(fourth.conn, "still refused 3 s after a client left: " << fourth.error);
    CHECK(fourth.conn->value("SELECT 'admitted'", soon()) == "admitted");
}

TEST_CASE("with max_message_size: 1kB a 10 kB query is refused with 54000 and pgrev goes on") {
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    PgrevLimits limits;
    limits.max_message_size = "1kB";
    std::unique_ptr<PgrevProcess> pgrev = env.start_pgrev(limits);
    std::string conninfo = env.via_port(pgrev->port(), "postgres", "app");

    PgConn conn = PgConn::connect(conninfo, soon());
    std::string small = "SELECT '" + std::string(900, 's') + "' IS NOT NULL";
    CHECK(conn.value(small, soon()) == "t");
    // The limit is on what clients send; results may be as large as they are.
    CHECK(conn.value("SELECT length(repeat('x', 100000))", soon()) == "100000");
    CHECK(conn.value("SELECT repeat('x', 100000)", soon()).size() == 100000);

    std::string big = "SELECT '" + std::string(10 * 1024, 'b') + "' IS NOT NULL";
    std::vector<PgResult> results = conn.run(big, soon());
    REQUIRE_FALSE(results.empty());
    const PGresult* refused = results.front().get();
    CHECK(PQresultStatus(refused) == PGRES_FATAL_ERROR);
    CHECK_MESSAGE(field(refused, PG_DIAG_SQLSTATE) == "54000", PQresultErrorMessage(refused));
    std::string message = field(refused, PG_DIAG_MESSAGE_PRIMARY);
    CHECK_MESSAGE((message.find("1024") != std::string::npos ||
                   lowercase(message).find("1kb") != std::string::npos ||
                   lowercase(message).find("1 kb") != std::string::npos),
                  "the message does not name the limit: " << message);

    PgConn next = PgConn::connect(conninfo, soon());
    CHECK(next.value("SELECT 'still serving'", soon()) == "still serving");
}

TEST_CASE("with startup_timeout: 1s a client that sends nothing is disconnected") {
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    PgrevLimits limits;
    limits.startup_timeout = "1s";
    std::unique_ptr<PgrevProcess> pgrev = env.start_pgrev(limits);

    struct Case {
        std::string story;
        std::string sent;
    };
    const Case cases[] = {
        {"silent", ""},
        {"half a length word", std::string("\0\0", 2)},
        {"a startup packet cut short", startup_packet("postgres", "app").substr(0, 20)},
        {"SSLRequest and then silence", ssl_request()},
    };
    for (const Case& c : cases) {
        CAPTURE(c.story);
        auto started = Clock::now();
        RawClient client = RawClient::connect(pgrev->port(), soon());
        client.send_all(c.sent);
        // Meanwhile pgrev serves others.
        PgConn other = PgConn::connect(env.via_port(pgrev->port(), "postgres", "app"), soon());
        CHECK(other.value("SELECT 'served'", soon()) == "served");

        RawClient::Drain drain = client.read_until_closed(started + std::chrono::seconds(3));
        auto elapsed = Clock::now() - started;
        CHECK_MESSAGE(drain.closed, "still open after 3 s");
        CHECK_MESSAGE(elapsed >= std::chrono::milliseconds(800),
                      "closed after only "
                          << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()
                          << " ms");
    }
}

TEST_CASE("with startup_timeout: 1s a session that finished its startup is not cut off") {
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    PgrevLimits limits;
    limits.startup_timeout = "1s";
    std::unique_ptr<PgrevProcess> pgrev = env.start_pgrev(limits);
    PgConn conn = PgConn::connect(env.via_port(pgrev->port(), "scramuser", "app"), soon());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    CHECK(conn.value("SELECT 'alive after the startup timeout'", soon()) ==
          "alive after the startup timeout");
}

TEST_CASE("a client that disconnects during its startup packet releases its socket at once") {
    // Issue 7, item 15: the startup timer kept such a session, and its place under the cap of
    // open connections (2 * max_clients + 100 = 120 here), until limits.startup_timeout.
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    PgrevLimits limits;
    limits.max_clients = "10";
    limits.startup_timeout = "60s";
    std::unique_ptr<PgrevProcess> pgrev = env.start_pgrev(limits);
    std::string conninfo = env.via_port(pgrev->port(), "postgres", "app");
    CHECK(PgConn::connect(conninfo, soon()).value("SELECT 'warm'", soon()) == "warm");
    std::size_t baseline = open_fds(pgrev->pid());

    const std::string cut_startup = startup_packet("postgres", "app");
    const std::string sent[] = {
        "",                                   // nothing at all
        std::string("\0\0", 2),               // half a length word
        cut_startup.substr(0, 20),            // a StartupMessage cut short
        ssl_request(),                        // SSLRequest, gone before reading the answer
        be32(16) + be32(80877102) + be32(1),  // a CancelRequest cut short
    };
    int connections = 0;
    for (int round = 0; round < 60; ++round) {
        for (const std::string& bytes : sent) {
            connect_send_close(pgrev->port(), bytes, /*reset=*/round % 2 == 1);
            ++connections;
        }
    }
    REQUIRE(connections == 300);  // more than the cap of 120

    // The clients are faster than pgrev's acceptor: some of them may still wait in the accept
    // queue (not yet pgrev's descriptors), and accepted at once they count against the cap
    // until their sessions see the client gone. pgrev's cap is judged once it has seen them all.
    Deadline accepted = deadline_in(std::chrono::seconds(5));
    while (accept_queue(pgrev->port()) > 0 && Clock::now() < accepted)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    REQUIRE_MESSAGE(accept_queue(pgrev->port()) == 0, "pgrev does not accept connections");

    Deadline deadline = deadline_in(std::chrono::seconds(1));
    std::size_t now = open_fds(pgrev->pid());
    while (now > baseline + 2 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        now = open_fds(pgrev->pid());
    }
    CHECK_MESSAGE(now <= baseline + 2, "pgrev holds " << now << " file descriptors 1 s after "
                                                      << connections << " clients left, baseline "
                                                      << baseline);
    PgConn::Attempt next = PgConn::try_connect(conninfo, soon(), /*verbose_errors=*/true);
    REQUIRE_MESSAGE(next.conn, "a new client is refused: " << next.error);
    CHECK(next.conn->value("SELECT 'served'", soon()) == "served");
}
