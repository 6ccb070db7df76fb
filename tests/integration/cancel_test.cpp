// Query cancellation through pgrev: libpq sends a CancelRequest on a new connection to
// the address it connected to (pgrev), with the key from BackendKeyData; pgrev must get
// it to the server so that the right backend stops, and the session stays usable.
#include <doctest/doctest.h>

#include <thread>

#include "pq_conn.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(5));
}

// Waits until the backend is running the sleep, so the cancel cannot arrive too early.
void wait_until_sleeping(PgConn& observer, int backend_pid) {
    Deadline deadline = soon();
    for (;;) {
        std::string active = observer.value(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(backend_pid) +
                " AND state = 'active' AND query LIKE '%pg_sleep%'",
            soon());
        if (active == "1") return;
        REQUIRE_MESSAGE(Clock::now() < deadline, "the query never started on the server");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

bool send_cancel(PgConn& conn) {
    PGcancel* cancel = PQgetCancel(conn.get());
    if (cancel == nullptr) return false;
    char error[256] = {};
    bool sent = PQcancel(cancel, error, sizeof error) == 1;
    if (!sent) MESSAGE("PQcancel: " << error);
    PQfreeCancel(cancel);
    return sent;
}

}  // namespace

TEST_CASE("PQcancel through pgrev stops a long query with 57014 and the session goes on") {
    TestEnv& env = TestEnv::get();
    PgConn observer = PgConn::connect(env.direct(), soon());
    for (bool extended : {false, true}) {
        CAPTURE(extended);
        PgConn conn = PgConn::connect(env.proxied(), soon());
        int backend_pid = std::stoi(conn.value("SELECT pg_backend_pid()", soon()));
        int sent =
            extended ? PQsendQueryParams(conn.get(), "SELECT pg_sleep($1::float8)", 1, nullptr,
                                         std::vector<const char*>{"30"}.data(), nullptr, nullptr, 0)
                     : PQsendQuery(conn.get(), "SELECT pg_sleep(30)");
        REQUIRE(sent == 1);
        wait_until_sleeping(observer, backend_pid);

        auto started = Clock::now();
        REQUIRE(send_cancel(conn));
        PgResult result = conn.next_result(soon());
        REQUIRE(result);
        CHECK(PQresultStatus(result.get()) == PGRES_FATAL_ERROR);
        const char* sqlstate = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
        CHECK(std::string(sqlstate ? sqlstate : "") == "57014");
        CHECK(std::string(PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY)) ==
              "canceling statement due to user request");
        CHECK(Clock::now() - started < std::chrono::seconds(5));
        while (conn.next_result(soon())) {
        }
        CHECK(conn.value("SELECT 'still usable'", soon()) == "still usable");
        CHECK(conn.value("SELECT pg_backend_pid()", soon()) == std::to_string(backend_pid));
    }
}

TEST_CASE("a cancel for an idle session through pgrev changes nothing") {
    PgConn conn = PgConn::connect(TestEnv::get().proxied(), soon());
    CHECK(send_cancel(conn));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    CHECK(conn.value("SELECT 'unaffected'", soon()) == "unaffected");
}

TEST_CASE("a cancel reaches only its own session, not another one through pgrev") {
    TestEnv& env = TestEnv::get();
    PgConn observer = PgConn::connect(env.direct(), soon());
    PgConn victim = PgConn::connect(env.proxied(), soon());
    PgConn bystander = PgConn::connect(env.proxied(), soon());
    int bystander_pid = std::stoi(bystander.value("SELECT pg_backend_pid()", soon()));
    REQUIRE(PQsendQuery(bystander.get(), "SELECT pg_sleep(1), 'finished' AS r") == 1);
    wait_until_sleeping(observer, bystander_pid);
    int victim_pid = std::stoi(victim.value("SELECT pg_backend_pid()", soon()));
    REQUIRE(PQsendQuery(victim.get(), "SELECT pg_sleep(30)") == 1);
    wait_until_sleeping(observer, victim_pid);
    REQUIRE(send_cancel(victim));
    PgResult cancelled = victim.next_result(soon());
    CHECK(std::string(PQresultErrorField(cancelled.get(), PG_DIAG_SQLSTATE)) == "57014");
    PgResult finished = bystander.next_result(soon());
    REQUIRE(PQresultStatus(finished.get()) == PGRES_TUPLES_OK);
    CHECK(std::string(PQgetvalue(finished.get(), 0, 1)) == "finished");
}
