// pgrev keeps the rewrite of an audited text that a client sends again and again as an unnamed
// Parse prepared as a statement of its own (server/own_statements.h, issue 11): the client
// must see exactly what it sees directly, message for message, every write must get its
// revision, and the server must show pgrev's statement reused.
#include <doctest/doctest.h>

#include <algorithm>

#include "audit_support.h"
#include "frontend_builder.h"
#include "raw_exchange.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

const char* const kUpdate = "UPDATE reservation SET party = $1 WHERE id = 100001";

// pgrev's statements on the session, with how often the server ran each.
std::vector<std::string> kept(RawClient& client) {
    return query_rows(client,
                      "SELECT name, generic_plans + custom_plans FROM pg_prepared_statements "
                      "WHERE starts_with(name, '__pgrev_') ORDER BY name");
}

long revisions(RawClient& client) {
    return std::stol(query_rows(client, "SELECT count(*) FROM reservation_rev").at(0));
}

struct Seen {
    std::string transcript;
    std::vector<std::string> kept;  // at the end of the steps
    long revisions = 0;             // written by the steps
};

Seen run(std::uint16_t port, const Steps& steps, bool in_transaction) {
    RawClient client = login(port);
    long before = revisions(client);
    if (in_transaction) exchange(client, fe::query("BEGIN"), 1);
    Seen seen;
    for (const auto& [bytes, readies] : steps)
        seen.transcript += exchange(client, bytes, readies) + "--\n";
    seen.kept = kept(client);
    seen.revisions = revisions(client) - before;
    if (in_transaction) exchange(client, fe::query("ROLLBACK"), 1);
    return seen;
}

// The steps directly and through pgrev: the same answers; what pgrev kept and wrote.
Seen expect_same(const Steps& steps, bool in_transaction = true) {
    Seen direct = run(TestEnv::get().cluster().port(), steps, in_transaction);
    INFO("direct:\n" << direct.transcript);
    CHECK(direct.transcript.find("(timed out") == std::string::npos);
    Seen through = run(TestEnv::get().proxy_port(), steps, in_transaction);
    CHECK(through.transcript == direct.transcript);
    return through;
}

// One unnamed Parse/Bind/Execute of `sql` with `value` for $1, without the Sync.
std::string unnamed(const std::string& sql, const std::string& value,
                    const std::vector<std::uint32_t>& types = {}) {
    return fe::parse("", sql, types) + fe::bind("", "", {value}) + fe::execute("");
}

// An unnamed Parse, Describe of it, Bind with `value` for $1, Describe of the portal,
// Execute and Sync, as node-postgres and psycopg 3 send a statement.
std::string described(const std::string& sql, const std::string& value) {
    return fe::parse("", sql) + fe::describe('S', "") + fe::bind("", "", {value}) +
           fe::describe('P', "") + fe::execute("") + fe::sync();
}

std::string update(const std::string& value, const std::vector<std::uint32_t>& types = {}) {
    return unnamed(kUpdate, value, types) + fe::sync();
}

Steps repeated(int times, const std::vector<std::uint32_t>& types = {}) {
    Steps steps;
    for (int i = 0; i < times; ++i)
        steps.push_back({update(std::to_string(i + 2), types), 1});
    return steps;
}

}  // namespace

TEST_CASE("an unnamed Parse sent again is pgrev's statement, reused") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("the same text five times") {
        Seen seen = expect_same(repeated(5));
        CHECK(seen.revisions == 5);
        // The 1st went as it came, the 2nd created pgrev's statement, the 3rd-5th reused it.
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("other parameter types are another statement") {
        const std::string next_to_column =
            "UPDATE reservation SET party = party + $1 WHERE id = 100001";
        Steps steps;
        for (std::uint32_t type : {23u, 23u, 23u, 20u, 20u, 20u})
            steps.push_back({unnamed(next_to_column, "1", {type}) + fe::sync(), 1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 6);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|2", "__pgrev_2|2"});
    }
    SUBCASE("a SET value of a type given is not kept") {
        // Its coercion to the column's type (int8 to int4 here) is folded while planning in
        // the client's unnamed statement, and fails there whether or not a row matches; a
        // generic plan of pgrev's statement would only fail for a row.
        Steps steps = repeated(8, {20});
        steps.push_back({fe::query("SAVEPOINT s"), 1});
        steps.push_back(
            {unnamed("UPDATE reservation SET party = $1 WHERE id = -5", "3000000000", {20}) +
                 fe::sync(),
             1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 8);
        CHECK(seen.kept.empty());
    }
    SUBCASE("pipelined three times before one Sync") {
        std::string three =
            unnamed(kUpdate, "3") + unnamed(kUpdate, "4") + unnamed(kUpdate, "5") + fe::sync();
        Seen seen = expect_same({{three, 1}, {three, 1}, {three, 1}});
        CHECK(seen.revisions == 9);
        // Known after the first Sync: created by the 4th Parse, reused by the 5th to 9th.
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|6"});
    }
    SUBCASE("an error before a reused Parse in the same pipeline: no ParseComplete of it") {
        Steps steps = repeated(2);
        steps.push_back({fe::query("SAVEPOINT s"), 1});
        steps.push_back({unnamed("SELECT 1/$1::int", "0") + unnamed(kUpdate, "7") + fe::sync(), 1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        // In the failed transaction the Parse itself fails, directly as through pgrev.
        steps.push_back({fe::query("SAVEPOINT s"), 1});
        steps.push_back({unnamed("SELECT 1/$1::int", "0") + fe::sync(), 1});
        steps.push_back({update("8"), 1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        // The unnamed statement is gone after the failed Parse: a Bind of it fails.
        steps.push_back({fe::bind("", "", {"9"}) + fe::execute("") + fe::sync(), 1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        steps.push_back({update("9"), 1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 3);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|2"});
    }
    SUBCASE("an error read before the rest of its pipeline: the reused Parse is skipped") {
        // The client sends its Sync after the error came (psycopg 3's pipeline can).
        Steps steps = repeated(2);
        steps.push_back({fe::query("SAVEPOINT s"), 1});
        steps.push_back({unnamed("SELECT 1/$1::int", "0") + fe::flush(), kUntilError});
        steps.push_back({unnamed(kUpdate, "7") + unnamed(kUpdate, "8") + fe::sync(), 1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        steps.push_back({update("9"), 1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 3);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|2"});
    }
    SUBCASE("a transaction rolled back keeps pgrev's statement") {
        Steps steps = repeated(2);
        steps.push_back({fe::query("ROLLBACK"), 1});
        steps.push_back({fe::query("BEGIN"), 1});
        Steps more = repeated(2);
        steps.insert(steps.end(), more.begin(), more.end());
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 2);  // the first two were rolled back
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|3"});
    }
}

// psycopg 3 and node-postgres with sqlcommenter: the same statement, another trace id in its
// comment each time. pgrev's statement leaves the comments out (audit/plan_template.h): one
// serves them all, and none shows an old request's trace id.
TEST_CASE("an unnamed Parse whose comment differs each time") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    auto tagged = [](const std::string& sql, int times) {
        Steps steps;
        for (int i = 0; i < times; ++i) {
            std::string n = std::to_string(1000 + i);
            std::string text = sql;
            for (std::size_t at; (at = text.find('#')) != std::string::npos;)
                text.replace(at, 1, n);
            steps.push_back({described(text, std::to_string(i + 2)), 1});
        }
        return steps;
    };
    SUBCASE("kept once, without the comments") {
        Seen seen = expect_same(
            tagged("/* request # */ UPDATE reservation SET party = $1 -- span #\n"
                   "WHERE id = 100001 AND 7 > 0 RETURNING id, party "
                   "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e#-00f067aa0ba902b7-01'*/",
                   5));
        CHECK(seen.revisions == 5);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|4"});
        RawClient client = login(TestEnv::get().proxy_port());
        for (int i = 0; i < 2; ++i) {
            exchange(client,
                     fe::parse("", "UPDATE reservation SET party = $1 WHERE id = 100001 /* " +
                                       std::to_string(i) + " */") +
                         fe::bind("", "", {"3"}) + fe::execute("") + fe::sync(),
                     1);
        }
        std::vector<std::string> texts = query_rows(
            client,
            "SELECT statement FROM pg_prepared_statements WHERE starts_with(name, '__pgrev_')");
        REQUIRE(texts.size() == 1);
        CHECK(texts[0].find("$1") != std::string::npos);
        CHECK(texts[0].find("/*") == std::string::npos);
    }
}

// With RETURNING, pgrev keeps a statement only when its result columns are the ones it names:
// after DDL behind its back a `*` or a whole row would change the statement's result type,
// which the server refuses for a prepared statement (see the next test case).
TEST_CASE("an unnamed Parse with RETURNING") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    auto returning = [](const std::string& list) {
        std::string sql = "UPDATE reservation SET party = $1 WHERE id = 100001 RETURNING " + list;
        Steps steps;
        for (int i = 0; i < 4; ++i) {
            steps.push_back({described(sql, std::to_string(i + 2)), 1});
        }
        return steps;
    };
    SUBCASE("of named columns is kept") {
        Seen seen = expect_same(returning("id, party * 2 AS twice, reservation.name, (xmax = 0)"));
        CHECK(seen.revisions == 4);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|3"});
    }
    SUBCASE("of `*`, `t.*` or a whole row is not") {
        for (const char* list : {"*", "id, reservation.*", "row_to_json(reservation)::text"}) {
            INFO(list);
            Seen seen = expect_same(returning(list));
            CHECK(seen.revisions == 4);
            CHECK(seen.kept.empty());
        }
    }
}

// A column that a kept statement returns changes type behind pgrev's back (DDL run directly):
// the server then refuses to run the prepared statement ("cached plan must not change result
// type", 0A000) where the client's own unnamed Parse would have run. That happens once: the
// error retires pgrev's statements, and the next Parse prepares the rewrite anew.
TEST_CASE("a returned column's type changed behind pgrev's back") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS kept_returning, kept_returning_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, "CREATE TABLE kept_returning (id int PRIMARY KEY, v varchar(10))");
    exec(direct, "INSERT INTO kept_returning VALUES (1, 'a')");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, kept_returning]}");
    RawClient client = login(pgrev->port());
    const char* sql = "UPDATE kept_returning SET v = $1 WHERE id = 1 RETURNING v";
    auto run = [&](const char* value) {
        return "\n" + exchange(client, unnamed(sql, value) + fe::sync(), 1);
    };
    // The row returned: one column of one byte.
    auto row = [](const char* value) { return "\nD 000100000001" + hex(value) + "\n"; };
    for (const char* value : {"b", "c", "d"}) {
        std::string answer = run(value);
        CHECK(answer.find("\nE") == std::string::npos);
        CHECK(answer.find(row(value)) != std::string::npos);
    }
    CHECK(kept(client) == std::vector<std::string>{"__pgrev_1|2"});
    exec(direct, "ALTER TABLE kept_returning ALTER COLUMN v TYPE varchar(20)");
    std::string failed = run("e");
    CHECK(failed.find("0A000") != std::string::npos);
    CHECK(failed.find("cached plan must not change result type") != std::string::npos);
    for (const char* value : {"f", "g", "h"}) {
        std::string answer = run(value);
        CHECK(answer.find("\nE") == std::string::npos);
        CHECK(answer.find(row(value)) != std::string::npos);
    }
    CHECK(rows(direct, "SELECT v FROM kept_returning") == std::vector<std::string>{"h"});
    CHECK(rows(direct, "SELECT string_agg(v, '' ORDER BY rev_created) FROM kept_returning_rev") ==
          std::vector<std::string>{"bcdfgh"});
    // pgrev's first statement is closed, another one is reused.
    std::vector<std::string> now = kept(client);
    REQUIRE(now.size() == 1);
    CHECK(now[0].starts_with("__pgrev_"));
    CHECK_FALSE(now[0].starts_with("__pgrev_1|"));
}

TEST_CASE("the client's unnamed statement while it is pgrev's") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("Describe of it") {
        Steps steps = repeated(2);
        for (int i = 0; i < 2; ++i) {
            steps.push_back({fe::parse("", kUpdate) + fe::describe('S', "") +
                                 fe::bind("", "", {"4"}) + fe::describe('P', "") + fe::execute("") +
                                 fe::sync(),
                             1});
            steps.push_back({fe::describe('S', "") + fe::sync(), 1});
        }
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 4);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|3"});
    }
    SUBCASE("Close of it") {
        Steps steps = repeated(3);
        steps.push_back({fe::close('S', "") + fe::sync(), 1});
        steps.push_back({fe::query("SAVEPOINT s"), 1});
        steps.push_back({fe::bind("", "", {"5"}) + fe::execute("") + fe::sync(), 1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        Steps more = repeated(2);
        steps.insert(steps.end(), more.begin(), more.end());
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 5);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("a simple Query replaces it") {
        Steps steps = repeated(3);
        steps.push_back({fe::query("SELECT 1"), 1});
        steps.push_back({fe::query("SAVEPOINT s"), 1});
        steps.push_back({fe::bind("", "", {"5"}) + fe::execute("") + fe::sync(), 1});
        steps.push_back({fe::query("ROLLBACK TO SAVEPOINT s"), 1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 3);
    }
    SUBCASE("a Bind of it again without a Parse, and a named statement of the client's") {
        Steps steps = repeated(3);
        steps.push_back({fe::bind("", "", {"6"}) + fe::execute("") + fe::sync(), 1});
        steps.push_back({fe::parse("mine", kUpdate) + fe::bind("p", "mine", {"7"}) +
                             fe::execute("p") + fe::sync(),
                         1});
        steps.push_back({fe::bind("", "", {"8"}) + fe::execute("") + fe::describe('S', "mine") +
                             fe::bind("", "mine", {"9"}) + fe::execute("") + fe::sync(),
                         1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 7);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("a client's statement named like pgrev's keeps its name") {
        Steps steps = {{fe::parse("__pgrev_1", "SELECT 41 + $1::int") + fe::sync(), 1}};
        Steps more = repeated(3);
        steps.insert(steps.end(), more.begin(), more.end());
        steps.push_back({fe::bind("", "__pgrev_1", {"1"}) + fe::execute("") + fe::sync(), 1});
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 3);
        // The client's own, and pgrev's under the next name.
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_1|1", "__pgrev_2|2"});
    }
}

TEST_CASE("pgrev's statements go with the server's") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("DEALLOCATE ALL in the middle") {
        Steps steps = repeated(3);
        steps.push_back({fe::query("DEALLOCATE ALL"), 1});
        Steps more = repeated(3);
        steps.insert(steps.end(), more.begin(), more.end());
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 6);
        // Gone with the client's; the text is known, so the next Parse prepares it again.
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_2|3"});
    }
    SUBCASE("DEALLOCATE ALL through the extended protocol") {
        Steps steps = repeated(3);
        steps.push_back(
            {fe::parse("", "DEALLOCATE ALL") + fe::bind("", "") + fe::execute("") + fe::sync(), 1});
        Steps more = repeated(3);
        steps.insert(steps.end(), more.begin(), more.end());
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 6);
        // Gone with the client's; the text is known, so the next Parse prepares it again.
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_2|3"});
    }
    SUBCASE("DISCARD ALL in the middle") {
        // Outside a transaction (DISCARD ALL cannot run in one): updates of no row.
        const char* none = "UPDATE reservation SET party = $1 WHERE id = -1";
        Steps steps;
        for (int i = 0; i < 3; ++i)
            steps.push_back({unnamed(none, "1") + fe::sync(), 1});
        steps.push_back({fe::query("DISCARD ALL"), 1});
        for (int i = 0; i < 3; ++i)
            steps.push_back({unnamed(none, "1") + fe::sync(), 1});
        Seen seen = expect_same(steps, false);
        CHECK(seen.kept == std::vector<std::string>{"__pgrev_2|3"});
    }
    SUBCASE("at most 32 on a session, the least recently used closed") {
        auto text = [](int t) {
            return std::string(kUpdate) + " AND " + std::to_string(t) + " > 0";
        };
        Steps steps;
        for (int t = 1; t <= 34; ++t) {
            // The first text's statement used again: the 2nd and 3rd are the oldest then.
            if (t == 33) steps.push_back({unnamed(text(1), "4") + fe::sync(), 1});
            for (int i = 0; i < 2; ++i)
                steps.push_back({unnamed(text(t), "3") + fe::sync(), 1});
        }
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 69);
        CHECK(seen.kept.size() == 32);
        auto has = [&](const std::string& row) {
            return std::find(seen.kept.begin(), seen.kept.end(), row) != seen.kept.end();
        };
        CHECK(has("__pgrev_1|2"));
        CHECK_FALSE(has("__pgrev_2|1"));
        CHECK_FALSE(has("__pgrev_3|1"));
        CHECK(has("__pgrev_4|1"));
        CHECK(has("__pgrev_34|1"));
    }
}

// DDL through pgrev changes its catalog: the rewrite pgrev kept is stale, a new one is used.
TEST_CASE("ALTER TABLE of the audited table through pgrev in the middle") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS kept_table, kept_table_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, "CREATE TABLE kept_table (id int PRIMARY KEY, v text)");
    exec(direct, "INSERT INTO kept_table VALUES (1, 'a')");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, kept_table]}");
    RawClient client = login(pgrev->port());
    const char* sql = "UPDATE kept_table SET v = $1 WHERE id = 1";
    std::string transcript;
    for (int i = 0; i < 3; ++i)
        transcript += exchange(client, unnamed(sql, "before") + fe::sync(), 1);
    transcript += exchange(client, fe::query("ALTER TABLE kept_table ADD COLUMN note text"), 1);
    transcript += exchange(client, fe::query("UPDATE kept_table SET note = 'n' WHERE id = 1"), 1);
    for (int i = 0; i < 3; ++i)
        transcript += exchange(client, unnamed(sql, "after") + fe::sync(), 1);
    CHECK(transcript ==
          "1\n2\nC UPDATE 1\nZ I\n1\n2\nC UPDATE 1\nZ I\n1\n2\nC UPDATE 1\nZ I\n"
          "C ALTER TABLE\nZ I\nC UPDATE 1\nZ I\n"
          "1\n2\nC UPDATE 1\nZ I\n1\n2\nC UPDATE 1\nZ I\n1\n2\nC UPDATE 1\nZ I\n");
    // Every revision, the ones after the ALTER with the new column.
    CHECK(rows(direct, "SELECT v, note FROM kept_table_rev ORDER BY rev_created") ==
          std::vector<std::string>{"before|NULL", "before|NULL", "before|NULL", "before|n",
                                   "after|n", "after|n", "after|n"});
    // The statement of the old catalog is closed; one of the new is reused.
    CHECK(kept(client) == std::vector<std::string>{"__pgrev_2|3"});
}
