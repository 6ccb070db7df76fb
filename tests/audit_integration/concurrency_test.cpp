// Several sessions at once: every change of every session has its revision, also when they
// all need pgrev to read the catalog at the same moment (a table created while pgrev runs).
#include <doctest/doctest.h>

#include <latch>
#include <thread>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

constexpr int kSessions = 6;
constexpr int kWritesEach = 20;

// What one session saw; checked on the test's thread (doctest is not thread-safe).
struct SessionLog {
    std::vector<std::string> tags;
    std::string failure;
};

}  // namespace

TEST_CASE("concurrent sessions writing a table pgrev has not seen yet are all audited") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS conc_table, conc_table_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, conc_table]}");
    std::vector<PgConn> conns;
    for (int s = 0; s < kSessions; ++s)
        conns.push_back(connect_via(pgrev->port()));
    exec(direct, "CREATE TABLE conc_table (id int PRIMARY KEY, session int, n int)");

    std::vector<SessionLog> logs(kSessions);
    std::latch start(kSessions);
    std::vector<std::thread> threads;
    for (int s = 0; s < kSessions; ++s) {
        threads.emplace_back([&, s] {
            try {
                start.arrive_and_wait();
                for (int i = 0; i < kWritesEach; ++i) {
                    int id = s * 1000 + i;
                    std::string sql = i % 2 == 0
                                          ? "INSERT INTO conc_table VALUES (" + std::to_string(id) +
                                                ", " + std::to_string(s) + ", 0)"
                                          : "UPDATE conc_table SET n = n + 1 WHERE id = " +
                                                std::to_string(id - 1);
                    Outcome o = simple(conns[s], sql);
                    logs[s].tags.push_back(o.ok() ? o.tag : o.describe());
                }
            } catch (const std::exception& e) {
                logs[s].failure = e.what();
            }
        });
    }
    for (std::thread& t : threads)
        t.join();

    for (int s = 0; s < kSessions; ++s) {
        CAPTURE(s);
        CHECK(logs[s].failure == "");
        REQUIRE(logs[s].tags.size() == kWritesEach);
        for (int i = 0; i < kWritesEach; ++i)
            CHECK(logs[s].tags[i] == (i % 2 == 0 ? "INSERT 0 1" : "UPDATE 1"));
    }
    CHECK(count(direct, "SELECT count(*) FROM conc_table_rev") == kSessions * kWritesEach);
    // Each row's history ends with its current state.
    CHECK(
        count(direct,
              "SELECT count(*) FROM conc_table c WHERE ROW(c.id, c.session, c.n) IS DISTINCT FROM "
              "(SELECT ROW(r.id, r.session, r.n) FROM conc_table_rev r WHERE r.id = c.id "
              "ORDER BY r.rev_created DESC LIMIT 1)") == 0);
}
