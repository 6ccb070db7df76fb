// LISTEN/NOTIFY through pgrev: a notification is an asynchronous message the server may
// send at any time, also while the client is idle; pgrev must pass it on at once.
#include <doctest/doctest.h>

#include "pq_conn.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(5));
}

}  // namespace

TEST_CASE("a notification sent from another connection reaches an idle client through pgrev") {
    TestEnv& env = TestEnv::get();
    PgConn listener = PgConn::connect(env.proxied(), soon());
    listener.run_one("LISTEN pgrev_channel", soon(), PGRES_COMMAND_OK);

    PgConn sender = PgConn::connect(env.direct(), soon());
    std::string sender_pid = sender.value("SELECT pg_backend_pid()", soon());
    sender.run_one("NOTIFY pgrev_channel, 'hello through the proxy'", soon(), PGRES_COMMAND_OK);

    auto notification = listener.wait_for_notification(soon());
    REQUIRE_MESSAGE(notification.has_value(), "no notification within 5 s");
    CHECK(notification->channel == "pgrev_channel");
    CHECK(notification->payload == "hello through the proxy");
    CHECK(std::to_string(notification->sender_pid) == sender_pid);

    SUBCASE("only committed notifications arrive, in order") {
        sender.run_one("BEGIN", soon(), PGRES_COMMAND_OK);
        sender.run_one("NOTIFY pgrev_channel, 'rolled back'", soon(), PGRES_COMMAND_OK);
        sender.run_one("ROLLBACK", soon(), PGRES_COMMAND_OK);
        sender.run_one("BEGIN", soon(), PGRES_COMMAND_OK);
        for (int i = 1; i <= 3; ++i) {
            sender.run_one("SELECT pg_notify('pgrev_channel', 'batch " + std::to_string(i) + "')",
                           soon());
        }
        sender.run_one("COMMIT", soon(), PGRES_COMMAND_OK);
        for (int i = 1; i <= 3; ++i) {
            auto next = listener.wait_for_notification(soon());
            REQUIRE(next.has_value());
            CHECK(next->payload == "batch " + std::to_string(i));
        }
        CHECK_FALSE(listener.wait_for_notification(deadline_in(std::chrono::milliseconds(300))));
    }
    SUBCASE("a notification arriving during a query is delivered with its results") {
        PQsendQuery(listener.get(), "SELECT pg_sleep(0.5), 'query result' AS r");
        sender.run_one("NOTIFY pgrev_channel, 'during the query'", soon(), PGRES_COMMAND_OK);
        PgResult result = listener.next_result(soon());
        REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
        CHECK(std::string(PQgetvalue(result.get(), 0, 1)) == "query result");
        while (listener.next_result(soon())) {
        }
        auto during = listener.wait_for_notification(soon());
        REQUIRE(during.has_value());
        CHECK(during->payload == "during the query");
    }
}

TEST_CASE("a client that notifies itself through pgrev receives its own notification") {
    PgConn conn = PgConn::connect(TestEnv::get().proxied(), soon());
    conn.run_one("LISTEN self_channel", soon(), PGRES_COMMAND_OK);
    conn.run_one("NOTIFY self_channel, 'to myself'", soon(), PGRES_COMMAND_OK);
    auto notification = conn.wait_for_notification(soon());
    REQUIRE(notification.has_value());
    CHECK(notification->payload == "to myself");
    CHECK(notification->sender_pid == PQbackendPID(conn.get()));
    conn.run_one("UNLISTEN *", soon(), PGRES_COMMAND_OK);
}
