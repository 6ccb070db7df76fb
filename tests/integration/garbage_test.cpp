// Hostile or broken clients: random bytes, absurd lengths, unknown protocol versions and
// message types. pgrev closes such a connection promptly, never allocates what a client
// merely declares, and keeps serving well-behaved clients.
#include <doctest/doctest.h>

#include <random>

#include "pq_conn.h"
#include "raw_client.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(5));
}

std::string random_bytes(unsigned seed, std::size_t n) {
    std::mt19937 generator(seed);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string bytes(n, '\0');
    for (char& b : bytes)
        b = static_cast<char>(byte(generator));
    bytes[0] = static_cast<char>(bytes[0] | 0x40);  // a declared length of at least 1 GiB
    return bytes;
}

// A raw session logged in as postgres (trust) and ready for queries.
RawClient logged_in_client(std::uint16_t port) {
    RawClient client = RawClient::connect(port, soon());
    REQUIRE(client.send_all(startup_packet("postgres", "app")));
    for (;;) {
        auto message = client.read_message(soon());
        REQUIRE_MESSAGE(message.has_value(), "login did not complete");
        if (message->type == 'Z') return client;
        REQUIRE(message->type != 'E');
    }
}

void check_still_serving() {
    TestEnv& env = TestEnv::get();
    PgConn conn = PgConn::connect(env.proxied(), soon());
    CHECK(conn.value("SELECT 'still serving'", soon()) == "still serving");
    if (!env.direct_mode()) CHECK(env.pgrev().running());
}

}  // namespace

TEST_CASE("garbage instead of a startup packet gets the connection closed") {
    TestEnv& env = TestEnv::get();
    struct Case {
        std::string story;
        std::string bytes;
    };
    const Case cases[] = {
        {"random bytes", random_bytes(1, 200)},
        {"more random bytes", random_bytes(2, 5000)},
        {"absurd length", be32(0x7ffffff0) + be32(196608) + "user"},
        {"length below the minimum", be32(4) + be32(196608)},
        {"zero length", be32(0) + be32(0)},
        {"unknown protocol version", startup_packet("postgres", "app", 0x04d20000 + 1234)},
        {"protocol 2.0", startup_packet("postgres", "app", 0x00020000)},
        {"startup packet without a user", be32(13) + be32(196608) + std::string("a\0b\0\0", 5)},
        {"SSLRequest, then garbage", ssl_request() + random_bytes(3, 300)},
        {"HTTP", "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.story);
        RawClient client = RawClient::connect(env.proxy_port(), soon());
        client.send_all(c.bytes);
        RawClient::Drain drain = client.read_until_closed(deadline_in(std::chrono::seconds(3)));
        CHECK_MESSAGE(drain.closed, "still open after 3 s");
    }
    check_still_serving();
}

TEST_CASE("garbage after a successful login ends only that session") {
    TestEnv& env = TestEnv::get();
    struct Case {
        std::string story;
        std::string bytes;
    };
    const Case cases[] = {
        {"unknown message type", "!" + be32(4)},
        {"message length below 4", "Q" + be32(2)},
        {"a Query declaring 2 GiB", "Q" + be32(0x7fffffff) + "SELECT 1"},
        {"a Parse declaring 1 GiB", "P" + be32(0x40000000) + std::string(100, 'x')},
        {"random bytes", random_bytes(4, 1000)},
    };
    for (const Case& c : cases) {
        CAPTURE(c.story);
        RawClient client = logged_in_client(env.proxy_port());
        client.send_all(c.bytes);
        RawClient::Drain drain = client.read_until_closed(deadline_in(std::chrono::seconds(3)));
        CHECK_MESSAGE(drain.closed, "still open after 3 s");
        if (!drain.bytes.empty()) {
            CHECK_MESSAGE(drain.bytes[0] == 'E', "answered with message type " << drain.bytes[0]);
        }
    }
    check_still_serving();
}

TEST_CASE("a CancelRequest with a made-up key cancels nothing and ends quietly") {
    TestEnv& env = TestEnv::get();
    PgConn busy = PgConn::connect(env.proxied(), soon());
    REQUIRE(PQsendQuery(busy.get(), "SELECT pg_sleep(0.5), 'finished'") == 1);
    RawClient client = RawClient::connect(env.proxy_port(), soon());
    client.send_all(be32(16) + be32(80877102) + be32(PQbackendPID(busy.get())) + be32(12345));
    RawClient::Drain drain = client.read_until_closed(deadline_in(std::chrono::seconds(3)));
    CHECK(drain.closed);
    CHECK(drain.bytes.empty());
    PgResult result = busy.next_result(soon());
    REQUIRE(result);
    CHECK(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
    check_still_serving();
}

TEST_CASE("a hundred garbage connections in a row leave pgrev serving") {
    TestEnv& env = TestEnv::get();
    for (unsigned seed = 100; seed < 200; ++seed) {
        RawClient client = RawClient::connect(env.proxy_port(), soon());
        client.send_all(random_bytes(seed, 64 + seed));
    }  // closed by us, at once
    check_still_serving();
}
