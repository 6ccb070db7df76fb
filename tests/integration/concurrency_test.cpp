// Many clients at once: 100 sessions through pgrev, all open at the same moment (checked
// in pg_stat_activity), each with its own work and its own results.
#include <doctest/doctest.h>

#include <latch>
#include <mutex>
#include <thread>
#include <vector>

#include "pq_conn.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

constexpr int kClients = 100;
const char* const kAppName = "pgrev-concurrency";

// One client's story; returns what went wrong, empty when all was as expected.
std::string client_session(int id, std::latch& connected, std::latch& release) {
    std::string failure;
    std::optional<PgConn> conn;
    try {
        // A third of the clients authenticate with SCRAM, the rest by trust.
        std::string user = id % 3 == 0 ? TestRoles::kScramUser : TestRoles::kSuperuser;
        conn.emplace(PgConn::connect(
            TestEnv::get().proxied(user, "app", std::string("application_name=") + kAppName),
            deadline_in(std::chrono::seconds(30))));
    } catch (const std::exception& error) {
        failure = std::string("connect: ") + error.what();
    }
    connected.count_down();
    if (!failure.empty()) return failure;
    release.wait();
    try {
        Deadline deadline = deadline_in(std::chrono::seconds(30));
        std::string doubled = conn->value("SELECT " + std::to_string(id) + " * 2", deadline);
        if (doubled != std::to_string(id * 2)) return "wrong product " + doubled;
        conn->run_one("CREATE TEMP TABLE mine (v int)", deadline, PGRES_COMMAND_OK);
        conn->run_one("INSERT INTO mine SELECT " + std::to_string(id) +
                          " FROM generate_series(1, " + std::to_string(id + 1) + ")",
                      deadline, PGRES_COMMAND_OK);
        std::string sum = conn->value("SELECT sum(v) FROM mine", deadline);
        if (sum != std::to_string(id * (id + 1))) return "wrong sum " + sum;
        const char* param[] = {"pgrev"};
        if (!PQsendQueryParams(conn->get(), "SELECT upper($1) || pg_backend_pid()", 1, nullptr,
                               param, nullptr, nullptr, 0)) {
            return "send failed";
        }
        PgResult result = conn->next_result(deadline);
        std::string expected = "PGREV" + std::to_string(PQbackendPID(conn->get()));
        if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK ||
            PQgetvalue(result.get(), 0, 0) != expected) {
            return "wrong extended-protocol result";
        }
        while (conn->next_result(deadline)) {
        }
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

}  // namespace

TEST_CASE("100 clients at once through pgrev all get their own correct results") {
    TestEnv& env = TestEnv::get();  // started here, not in a worker thread
    PgConn observer = PgConn::connect(env.direct(), deadline_in(std::chrono::seconds(5)));
    std::latch connected(kClients);
    std::latch release(1);
    std::mutex failures_mutex;
    std::vector<std::string> failures;
    std::vector<std::thread> clients;
    for (int id = 0; id < kClients; ++id) {
        clients.emplace_back([&, id] {
            std::string failure = client_session(id, connected, release);
            if (!failure.empty()) {
                std::lock_guard lock(failures_mutex);
                failures.push_back("client " + std::to_string(id) + ": " + failure);
            }
        });
    }
    connected.wait();
    std::string open_sessions = observer.value(
        std::string("SELECT count(*) FROM pg_stat_activity WHERE application_name = '") + kAppName +
            "'",
        deadline_in(std::chrono::seconds(5)));
    release.count_down();
    for (std::thread& client : clients)
        client.join();

    CHECK(open_sessions == std::to_string(kClients));
    std::string all_failures;
    for (const std::string& failure : failures)
        all_failures += failure + "\n";
    CHECK_MESSAGE(failures.empty(), failures.size() << " clients failed:\n" << all_failures);
}
