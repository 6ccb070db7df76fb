// Statement and portal names change in pgrev's books only when the server confirms the change
// (issue 7, item 10): a failed re-Parse, a failed PREPARE, a DEALLOCATE in an aborted
// transaction, a Close skipped after an error, and a portal name reused after its transaction
// ended must leave pgrev with the statement the server has, so that tags are PostgreSQL's.
#include <doctest/doctest.h>

#include "audit_support.h"
#include "frontend_builder.h"
#include "raw_exchange.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

const char* const kUpdate = "UPDATE reservation SET party = party WHERE id = 100001";
const char* const kInsert = "INSERT INTO reservation (id, name) VALUES (100071, 'x')";

AuditedStory story(std::string name, Session body, int expected_revs) {
    AuditedStory s;
    s.story = std::move(name);
    s.body = std::move(body);
    s.expected_revs = expected_revs;
    return s;
}

}  // namespace

TEST_CASE("a failed change of a name leaves the statement the server keeps") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        story(
            "a re-Parse of an existing name fails (42P05)",
            [](PgConn& c, Transcript& t) {
                prepare(c, t, "s1", kUpdate);
                t.query("SAVEPOINT p", soon());
                prepare(c, t, "s1", kInsert);
                t.query("ROLLBACK TO SAVEPOINT p", soon());
                exec_prepared(c, t, "s1");  // the UPDATE: "UPDATE 1"
            },
            1),
        queries("a PREPARE of an existing name fails (42P05)",
                {std::string("PREPARE p AS ") + kUpdate, "SAVEPOINT s",
                 std::string("PREPARE p AS ") + kInsert, "ROLLBACK TO SAVEPOINT s", "EXECUTE p"},
                1),
        queries("a DEALLOCATE in an aborted transaction fails",
                {std::string("PREPARE p AS ") + kUpdate, "SAVEPOINT s", "SELECT 1/0",
                 "DEALLOCATE p", "ROLLBACK TO SAVEPOINT s", "EXECUTE p"},
                1),
        queries("a PREPARE of an unaudited text under an audited name fails",
                {std::string("PREPARE p AS ") + kUpdate, "SAVEPOINT s", "PREPARE p AS SELECT 1",
                 "ROLLBACK TO SAVEPOINT s", "EXECUTE p"},
                1),
        story(
            "a protocol Parse of a name SQL PREPARE holds fails",
            [](PgConn& c, Transcript& t) {
                t.query(std::string("PREPARE p AS ") + kUpdate, soon());
                t.query("SAVEPOINT s", soon());
                prepare(c, t, "p", "SELECT 1");
                t.query("ROLLBACK TO SAVEPOINT s", soon());
                exec_prepared(c, t, "p");
            },
            1),
    });
}

namespace {

// The same bytes directly and through pgrev: the same answers, message for message.

void expect_same_raw(const std::string& story, const Steps& steps) {
    auto run = [&](std::uint16_t port) {
        RawClient client = login(port);
        std::string transcript;
        for (const auto& [bytes, readies] : steps)
            transcript += pipelined(client, bytes, readies, soon()) + "--\n";
        return transcript;
    };
    std::string direct = run(TestEnv::get().cluster().port());
    INFO(story << " (direct):\n" << direct);
    CHECK(direct.find("(timed out") == std::string::npos);
    CHECK(run(TestEnv::get().proxy_port()) == direct);
}

}  // namespace

TEST_CASE("names in the extended protocol follow the server's answers") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("a portal name reused by a cursor after COMMIT") {
        expect_same_raw("portal", {{fe::query("BEGIN"), 1},
                                   {fe::parse("d", "DELETE FROM reservation WHERE id = -1") +
                                        fe::bind("c", "d") + fe::execute("c") + fe::sync(),
                                    1},
                                   {fe::query("COMMIT"), 1},
                                   {fe::query("DECLARE c CURSOR WITH HOLD FOR SELECT 1"), 1},
                                   {fe::execute("c") + fe::sync(),
                                    1},  // the cursor's "SELECT 1", not "DELETE 1"
                                   {fe::query("CLOSE c"), 1}});
    }
    SUBCASE("an implicit transaction's portals end at Sync") {
        expect_same_raw("portal at sync",
                        {{fe::parse("d", "DELETE FROM reservation WHERE id = -1") +
                              fe::bind("c", "d") + fe::execute("c") + fe::sync(),
                          1},
                         {fe::query("DECLARE c CURSOR WITH HOLD FOR SELECT 1"), 1},
                         {fe::execute("c") + fe::sync(), 1},
                         {fe::query("CLOSE c"), 1}});
    }
    SUBCASE("a Close skipped after an error keeps the statement") {
        expect_same_raw("close",
                        {{fe::query("BEGIN"), 1},
                         {fe::parse("u", kUpdate) + fe::sync(), 1},
                         {fe::parse("", "SELECT nosuch") + fe::close('S', "u") + fe::sync(), 1},
                         {fe::query("ROLLBACK"), 1},
                         {fe::query("BEGIN"), 1},
                         {fe::bind("", "u") + fe::execute("") + fe::sync(), 1},  // "UPDATE 1"
                         {fe::close('S', "u") + fe::sync(), 1},
                         {fe::bind("", "u") + fe::execute("") + fe::sync(), 1},  // gone now
                         {fe::query("ROLLBACK"), 1}});
    }
    SUBCASE("a failed re-Parse in a pipeline, and a Bind behind it past a Sync") {
        expect_same_raw("re-parse",
                        {{fe::query("BEGIN"), 1},
                         {fe::parse("s", kUpdate) + fe::sync() + fe::parse("s", kInsert) +
                              fe::sync() + fe::query("ROLLBACK") + fe::query("BEGIN") +
                              fe::bind("", "s") + fe::execute("") + fe::sync(),
                          5},
                         {fe::query("ROLLBACK"), 1}});
    }
    SUBCASE("Close, then Parse of the same name, pipelined") {
        expect_same_raw("close and parse", {{fe::query("BEGIN"), 1},
                                            {fe::parse("s", kUpdate) + fe::sync() +
                                                 fe::close('S', "s") + fe::parse("s", kInsert) +
                                                 fe::bind("", "s") + fe::execute("") + fe::sync(),
                                             2},
                                            {fe::query("ROLLBACK"), 1}});
    }
    SUBCASE("an unnamed statement replaced by an audited text pgrev forwards as is") {
        expect_same_raw("unnamed",
                        {{fe::query("BEGIN"), 1},
                         {fe::parse("", kUpdate) + fe::bind("", "") + fe::execute("") +
                              fe::parse("", "SELECT count(*) FROM reservation WHERE id = 100001") +
                              fe::bind("", "") + fe::execute("") + fe::sync(),
                          1},  // "SELECT 1", not "UPDATE 1"
                         {fe::query("ROLLBACK"), 1}});
    }
    SUBCASE("PREPARE and EXECUTE pipelined") {
        expect_same_raw("prepare pipelined",
                        {{fe::query("BEGIN") + fe::query(std::string("PREPARE p AS ") + kUpdate) +
                              fe::query("EXECUTE p") + fe::query("DEALLOCATE p") +
                              fe::query(std::string("PREPARE p AS ") + kInsert) +
                              fe::query("EXECUTE p") + fe::query("ROLLBACK"),
                          7}});
    }
}
