// A simple Query holding one audited write, sent again with other numbers, is sent by pgrev as a
// statement of its own with the numbers as parameters (issue 11): the client must see exactly
// what it sees directly, message for message (errors with every field, their positions too),
// every write must get its revision, and the server must show pgrev's statement reused.
#include <doctest/doctest.h>

#include <set>

#include "audit_support.h"
#include "frontend_builder.h"
#include "raw_exchange.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

std::pair<std::string, int> q(const std::string& sql) {
    return {fe::query(sql), 1};
}

const char* const kPgrevStatements =
    " FROM pg_prepared_statements WHERE starts_with(name, '__pgrev_') ORDER BY name";

struct Seen {
    std::string transcript;
    std::vector<std::vector<std::string>> kept;  // names|runs after each part of the steps
    std::vector<std::string> types;              // parameter_types of each, at the end
    std::vector<std::string> texts;              // the statement of each, at the end
    long revisions = 0;                          // written by the steps
};

Seen run(std::uint16_t port, const std::vector<Steps>& parts, bool in_transaction,
         const std::string& rev_table) {
    RawClient client = login(port);
    auto revisions = [&] {
        return std::stol(query_rows(client, "SELECT count(*) FROM " + rev_table).at(0));
    };
    long before = revisions();
    if (in_transaction) exchange(client, fe::query("BEGIN"), 1);
    Seen seen;
    for (const Steps& steps : parts) {
        for (const auto& [bytes, readies] : steps)
            seen.transcript += exchange(client, bytes, readies) + "--\n";
        seen.kept.push_back(query_rows(
            client, std::string("SELECT name, generic_plans + custom_plans") + kPgrevStatements));
    }
    seen.types = query_rows(client, std::string("SELECT parameter_types") + kPgrevStatements);
    seen.texts = query_rows(client, std::string("SELECT statement") + kPgrevStatements);
    seen.revisions = revisions() - before;
    if (in_transaction) exchange(client, fe::query("ROLLBACK"), 1);
    return seen;
}

void compare(const Seen& direct, const Seen& through) {
    INFO("direct:\n" << direct.transcript);
    CHECK(direct.transcript.find("(timed out") == std::string::npos);
    CHECK(through.transcript == direct.transcript);
}

// The steps directly and through the shared pgrev: the same answers; what pgrev kept and wrote.
Seen expect_same(const Steps& steps, bool in_transaction = true) {
    Seen direct = run(TestEnv::get().cluster().port(), {steps}, in_transaction, "reservation_rev");
    Seen through = run(TestEnv::get().proxy_port(), {steps}, in_transaction, "reservation_rev");
    compare(direct, through);
    return through;
}

// `sql` with every "#" replaced by each of `numbers`, one Query each.
Steps each(const std::string& sql, const std::vector<std::string>& numbers,
           const std::string& then = {}) {
    Steps steps;
    for (const std::string& n : numbers) {
        std::string text = sql;
        for (std::size_t at; (at = text.find('#')) != std::string::npos;)
            text.replace(at, 1, n);
        steps.push_back(q(text));
        if (!then.empty()) steps.push_back(q(then));
    }
    return steps;
}

Steps operator+(Steps a, const Steps& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// A Query that fails the transaction, then a new transaction.
Steps failing(const std::string& sql) {
    return {q(sql), q("ROLLBACK"), q("BEGIN")};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

const std::vector<std::string> kFive = {"7771", "7772", "7773", "7774", "7775"};

}  // namespace

TEST_CASE("a simple Query sent again is pgrev's statement, with its numbers as parameters") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("the same shape five times, in a transaction") {
        Seen seen =
            expect_same(each("UPDATE reservation AS k1 SET party = # + (id - id) WHERE id = 100001",
                             kFive, "SELECT party FROM reservation WHERE id = 100001"));
        CHECK(seen.revisions == 5);
        // The 1st went as text, the 2nd created pgrev's statement, the 3rd-5th reused it.
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
        CHECK(seen.types == std::vector<std::string>{"{integer,integer}"});
        CHECK(seen.texts.size() == 1);
        for (const std::string& text : seen.texts) {
            CHECK(contains(text, "$1"));
            CHECK(contains(text, "$2"));
            CHECK_FALSE(contains(text, "100001"));
            for (const std::string& n : kFive)
                CHECK_FALSE(contains(text, n));
        }
    }
    SUBCASE("the same shape five times, in autocommit") {
        // The row stays as it was: other tests read it.
        Seen seen = expect_same(each("UPDATE reservation AS k1a SET party = party WHERE id = "
                                     "100001 AND # + (id - id) > 0",
                                     kFive),
                                false);
        CHECK(seen.revisions == 5);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
        CHECK(seen.types == std::vector<std::string>{"{integer,integer,integer}"});
    }
    SUBCASE("each literal with the type PostgreSQL gives it") {
        Steps steps;
        for (const char* literal : {"5",
                                    "00012",
                                    "3000000000",
                                    "1.50",
                                    "1e2",
                                    "1E+2",
                                    ".5",
                                    "5.",
                                    "1e-2",
                                    "-5",
                                    "- 7",
                                    "-2147483648",
                                    "-(2147483648)",
                                    "2147483648",
                                    "2147483647",
                                    "-2147483649",
                                    "-9223372036854775808",
                                    "9223372036854775808",
                                    "- 1.5",
                                    "-0.0"}) {
            // Next to a column (id - id): a literal alone in an operation stays text.
            std::string sql = std::string("UPDATE reservation AS k2 SET name = pg_typeof(") +
                              literal + " + (id - id))::text || ' ' || (" + literal +
                              " + (id - id))::text WHERE id = 100001";
            for (int i = 0; i < 3; ++i) {
                steps.push_back(q(sql));
                steps.push_back(q("SELECT name FROM reservation WHERE id = 100001"));
            }
        }
        steps.push_back(
            q("UPDATE reservation AS k2 SET party = party + 3000000000 - 3000000000 "
              "WHERE id = 100001"));
        Seen seen = expect_same(steps + steps);
        CHECK(seen.revisions == 2 * (20 * 3 + 1));
        std::set<std::string> types(seen.types.begin(), seen.types.end());
        CHECK(types.count("{integer,integer,integer}") == 1);
        CHECK(types.count("{bigint,bigint,integer}") == 1);
        CHECK(types.count("{numeric,numeric,integer}") == 1);
        for (const std::string& t : types)
            INFO(t);
    }
}

// With RETURNING pgrev adds a Describe of its portal: the RowDescription it brings must reach
// the client where a Query's would, just before the first row or the completion, and not at
// all when the statement fails (a Query sends it only once the statement ran).
TEST_CASE("a kept simple Query with RETURNING") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("its columns, rows and a literal returned") {
        Seen seen = expect_same(
            each("UPDATE reservation AS k7a SET party = # + (id - id) WHERE id = 100001 "
                 "RETURNING id, party, # + (id - id) AS plus, (xmax = 0), k7a.name",
                 kFive));
        CHECK(seen.revisions == 5);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("no row matched: the description comes just before the tag") {
        Seen seen = expect_same(each(
            "UPDATE reservation AS k7b SET party = party + # WHERE id = -1 RETURNING id", kFive));
        CHECK(seen.revisions == 0);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("an error while it runs: no description") {
        const char* sql =
            "UPDATE reservation AS k7c SET party = party * # WHERE id = 100001 RETURNING party";
        Seen seen = expect_same(each(sql, {"1", "2"}) +
                                failing("UPDATE reservation AS k7c SET party = party * "
                                        "2000000000 WHERE id = 100001 RETURNING party") +
                                each(sql, {"3", "1"}));
        CHECK(seen.revisions == 2);  // the 1st two were rolled back with the failure
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("an ORM's INSERT returning its key") {
        Seen seen = expect_same(
            each("INSERT INTO \"reservation\" (\"id\", \"name\", \"party\") VALUES (#, 'k7d', 2) "
                 "RETURNING \"reservation\".\"id\"",
                 kFive));
        CHECK(seen.revisions == 5);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("`*` or `t.*`: not kept") {
        Seen seen = expect_same(
            each("UPDATE reservation AS k7e SET party = # WHERE id = 100001 RETURNING *", kFive) +
            each("UPDATE reservation AS k7e SET party = # WHERE id = 100001 RETURNING id, k7e.*",
                 kFive));
        CHECK(seen.revisions == 10);
        CHECK(seen.kept.back().empty());
    }
}

// Frameworks tag each request's SQL with a comment holding a trace id (sqlcommenter, Rails query
// logs): pgrev's statement leaves the comments out, so one statement serves every request and
// none shows an old request's trace id.
TEST_CASE("a kept simple Query whose comments differ each time") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("a leading block comment, a line comment and a trailing sqlcommenter tag") {
        Seen seen = expect_same(each(
            "/* request # */ UPDATE reservation AS k8a SET party = party -- edited by k8a-user #\n"
            "WHERE id = 100001 AND # + (id - id) > 0 "
            "/*traceparent='00-4bf92f3577b34da6a3ce929d0e0e#-00f067aa0ba902b7-01'*/",
            kFive));
        CHECK(seen.revisions == 5);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
        CHECK(seen.types == std::vector<std::string>{"{integer,integer,integer}"});
        REQUIRE(seen.texts.size() == 1);
        CHECK_FALSE(contains(seen.texts[0], "request"));
        CHECK_FALSE(contains(seen.texts[0], "k8a-user"));
        CHECK_FALSE(contains(seen.texts[0], "traceparent"));
    }
    SUBCASE("only the comment differs") {
        // No number either: pgrev's statement has no parameter.
        Seen seen = expect_same(each(
            "UPDATE reservation AS k8b SET name = name WHERE name = 'k8b' /* span # */", kFive));
        CHECK(seen.revisions == 0);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
        CHECK(seen.types == std::vector<std::string>{"{}"});
    }
    SUBCASE("an ORM's transaction: UPDATE by key, INSERT ... RETURNING, a trace id in each") {
        Steps steps;
        for (int i = 0; i < 5; ++i) {
            std::string n = std::to_string(7781 + i);
            std::string tag = " /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e" + n +
                              "-00f067aa0ba9" + n + "-01'*/";
            steps.push_back(q("UPDATE \"reservation\" SET \"name\" = 'paid', \"party\" = " +
                              std::to_string(i + 2) +
                              ", \"last_modified\" = now() WHERE \"reservation\".\"id\" = 100001" +
                              tag));
            steps.push_back(q("INSERT INTO \"reservation\" (\"id\", \"name\", \"party\") VALUES (" +
                              n + ", 'new', " + std::to_string(i + 2) +
                              ") RETURNING \"reservation\".\"id\"" + tag));
        }
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 10);
        REQUIRE(seen.kept.back().size() == 2);
        CHECK(seen.kept.back()[0] == "__pgrev_1|4");
        CHECK(seen.kept.back()[1] == "__pgrev_2|4");
    }
    SUBCASE("errors with a position after a comment, or in one's place") {
        Steps steps;
        for (const std::string& n : kFive) {
            steps = steps +
                    failing("/* a comment " + n +
                            " */ UPDATE reservation AS k8c SET party = 5 WHERE id = 100001 AND "
                            "nosuch = 3") +
                    failing("UPDATE reservation AS k8c SET party = 5 -- " + n +
                            "\nWHERE id = 100001 AND name = 7") +
                    // A parameter a simple Query cannot have: never kept.
                    failing("UPDATE reservation AS k8c SET party = $1 WHERE id = 100001 /* " + n +
                            " */");
        }
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 0);
        CHECK(seen.kept.back().empty());
    }
}

TEST_CASE("errors of a kept simple Query are the server's, positions too") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("integer out of range at execution, then the shape again") {
        const char* sql = "UPDATE reservation AS k3a SET party = party * # WHERE id = 100001";
        Seen seen = expect_same(each(sql, {"1", "2"}) +
                                failing("UPDATE reservation AS k3a SET "
                                        "party = party * 2000000000 WHERE id = 100001") +
                                each(sql, {"3", "4"}));
        CHECK(seen.revisions == 2);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|4"});
    }
    SUBCASE("a value out of range of the column") {
        Steps steps;
        for (const char* v : {"3000000000", "3000000001", "99999999999999999999", "-2147483649",
                              "-2147483648::int"})
            steps = steps + failing(std::string("UPDATE reservation AS k3b SET party = ") + v +
                                    " WHERE id = 100001");
        expect_same(steps);
    }
    SUBCASE("analysis errors with a position after a literal, or at one") {
        Steps steps;
        for (int i = 0; i < 4; ++i) {
            steps =
                steps +
                failing(
                    "UPDATE reservation AS k3c SET party = 5 WHERE id = 100001 AND nosuch = 3") +
                failing("UPDATE reservation AS k3c SET date = 5 WHERE id = 100001") +
                failing("UPDATE reservation AS k3c SET party = 5 WHERE id = 100001 AND name = 7") +
                // A parameter a simple Query cannot have: the server says so.
                failing("UPDATE reservation AS k3c SET party = $1 WHERE id = 100001") +
                failing(
                    "INSERT INTO reservation (id, name, party) SELECT id + 200000, name, "
                    "party FROM reservation WHERE id = 100001 ORDER BY -1");
        }
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 0);
        CHECK(seen.kept.back().empty());
    }
    SUBCASE("division by zero in SET") {
        const char* sql = "UPDATE reservation AS k3d SET party = party / # WHERE id = 100001";
        Seen seen = expect_same(each(sql, {"1", "2"}) +
                                failing("UPDATE reservation AS k3d SET "
                                        "party = party / 0 WHERE id = 100001") +
                                each(sql, {"1", "3"}));
        CHECK(seen.revisions == 2);
    }
    SUBCASE("division by zero that only planning sees, after many runs") {
        // Directly, 1/0 is folded while planning even when no row matches; a generic plan of
        // $1/$2 would not see it.
        const char* sql = "UPDATE reservation AS k3e SET party = # + (id - id) WHERE id = 100001";
        Seen seen =
            expect_same(each(sql, {"6 / 1", "6 / 1", "6 / 1", "6 / 1", "6 / 1", "6 / 1", "6 / 1",
                                   "6 / 1", "6 / 1"}) +
                        failing("UPDATE reservation AS k3e SET party = 1 / 0 WHERE id = 0") +
                        each(sql, {"7 / 1"}));
        CHECK(seen.revisions == 1);
    }
    SUBCASE("a failed transaction: aborted, as directly") {
        const char* sql = "UPDATE reservation AS k6 SET party = # + (id - id) WHERE id = 100001";
        Steps steps = each(sql, {"1", "2"});
        steps.push_back(q("SELECT 1/0"));
        steps = steps + each(sql, {"3", "4"});
        steps.push_back(q("ROLLBACK"));
        steps.push_back(q("BEGIN"));
        Seen seen = expect_same(steps + each(sql, {"5", "6"}));
        CHECK(seen.revisions == 2);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|3"});
    }
}

TEST_CASE("kept simple Queries and the session's statements") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    SUBCASE("DEALLOCATE ALL in the middle") {
        const char* sql = "UPDATE reservation AS k5a SET party = # + (id - id) WHERE id = 100001";
        Steps steps = each(sql, {"1", "2", "3"});
        steps.push_back(q("DEALLOCATE ALL"));
        Seen seen = expect_same(steps + each(sql, {"4", "5", "6"}));
        CHECK(seen.revisions == 6);
        // Only the statement made after it.
        CHECK(seen.kept.back().size() == 1);
        for (const std::string& kept : seen.kept.back())
            CHECK_FALSE(contains(kept, "__pgrev_1|"));
    }
    SUBCASE("DISCARD ALL in the middle") {
        const char* sql =
            "UPDATE reservation AS k5b SET party = party WHERE id = 100001 AND # + (id - id) > 0";
        Steps steps = each(sql, {"1", "2", "3"});
        steps.push_back(q("DISCARD ALL"));
        Seen seen = expect_same(steps + each(sql, {"4", "5", "6"}), false);
        CHECK(seen.revisions == 6);
        CHECK(seen.kept.back().size() == 1);
        for (const std::string& kept : seen.kept.back())
            CHECK_FALSE(contains(kept, "__pgrev_1|"));
    }
    SUBCASE("two Queries of the shape pipelined") {
        const char* sql = "UPDATE reservation AS k7 SET party = # + (id - id) WHERE id = 100001";
        Steps steps = each(sql, {"1", "2"});
        steps.push_back(
            {fe::query("UPDATE reservation AS k7 SET party = 3 + (id - id) WHERE id = 100001") +
                 fe::query("UPDATE reservation AS k7 SET party = 4 + (id - id) WHERE id = 100001"),
             2});
        Seen seen = expect_same(
            steps + each(sql, {"5"}, "SELECT party FROM reservation WHERE id = 100001"));
        CHECK(seen.revisions == 5);
        // The 2nd created it; the 3rd and the 5th used it, the 4th (behind the 3rd) went as text.
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|3"});
    }
    SUBCASE("a Describe right before the Query, no Sync between: its answer is the client's") {
        const char* sql = "UPDATE reservation AS k8 SET party = # + (id - id) WHERE id = 100001";
        Steps steps = each(sql, {"1", "2"});
        steps.push_back({fe::parse("s8", "SET work_mem = '4MB'") + fe::sync(), 1});
        // ParameterDescription and NoData of the Describe, then the Query's answers.
        steps.push_back(
            {fe::describe('S', "s8") +
                 fe::query("UPDATE reservation AS k8 SET party = 3 + (id - id) WHERE id = 100001"),
             1});
        steps.push_back({fe::sync(), 1});
        Seen seen = expect_same(steps + each(sql, {"4"}));
        CHECK(seen.revisions == 4);
        // The 2nd created it, the 4th used it; the 3rd (behind the Describe) went as text.
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|2"});
    }
    SUBCASE("ordinals stay in the text") {
        const char* show = "SELECT id, name, party FROM reservation WHERE id > 200000 ORDER BY id";
        Steps steps =
            each(
                "INSERT INTO reservation (id, name, party) SELECT id + #, name, party FROM "
                "reservation WHERE id BETWEEN 100001 AND 100003 ORDER BY 1 DESC LIMIT 2",
                {"200000", "200010", "200020"}, show) +
            each(
                "INSERT INTO reservation (id, name, party) SELECT 400000 + # + party, 'g', "
                "count(*) FROM reservation WHERE id BETWEEN 100001 AND 100003 GROUP BY 1",
                {"100", "200", "300"}, show) +
            each(
                "INSERT INTO reservation (id, name, party) SELECT DISTINCT ON (1) 500000 + #, "
                "name, party FROM reservation WHERE id BETWEEN 100001 AND 100003 ORDER BY 1, 2",
                {"1", "2", "3"}, show);
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 6 + 9 + 3);
        for (const std::string& text : seen.texts) {
            CHECK_FALSE(contains(text, "BY $"));
            CHECK_FALSE(contains(text, "ON ($"));
        }
    }
    SUBCASE("type modifiers stay in the text") {
        Seen seen = expect_same(
            each("UPDATE reservation AS k8 SET name = ('abcdef' || # + (id - id))::varchar(3) || "
                 "(# * id / id)::numeric(6,1), time = '19:00:00.123456'::time(1) WHERE id = "
                 "100001",
                 {"1", "2", "3"}, "SELECT name, time FROM reservation WHERE id = 100001"));
        CHECK(seen.revisions == 3);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|2"});
        for (const std::string& text : seen.texts) {
            CHECK(contains(text, "varchar(3)"));
            CHECK(contains(text, "numeric(6,1)"));
            CHECK(contains(text, "time(1)"));
        }
    }
    SUBCASE("strings that differ are other statements, comments are not") {
        Steps steps =
            each("UPDATE reservation AS k9 SET party = 4 WHERE id = 100001 AND name <> 'Steve #'",
                 {"1", "2", "3"}) +
            each("UPDATE reservation AS k9 SET name = $q$Steve #$q$, party = 4 WHERE id = 100001",
                 {"1", "2", "3"}, "SELECT name FROM reservation WHERE id = 100001");
        Seen seen = expect_same(steps);
        CHECK(seen.revisions == 6);
        CHECK(seen.kept.back().empty());
        steps = each("UPDATE reservation AS k9 /* trace # */ SET party = 4 WHERE id = 100001",
                     {"123", "124", "125"}) +
                each("UPDATE reservation AS k9 SET party = 4 -- trace #\nWHERE id = 100001",
                     {"123", "124", "125"});
        seen = expect_same(steps);
        CHECK(seen.revisions == 6);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|2", "__pgrev_2|2"});
    }
    SUBCASE("the same comment, other numbers: kept") {
        Seen seen = expect_same(each(
            "UPDATE reservation AS k9b /* trace 7 */ SET party = # + (id - id) WHERE id = 100001",
            {"1", "2", "3"}));
        CHECK(seen.revisions == 3);
        CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|2"});
    }
}

// A SET value is coerced to its column's type while planning, where a failure is raised
// whether or not a row matches: pgrev sends it as a parameter only when the coercion cannot fail
// for the value (audit/literal_parameters.h), and as text otherwise.
TEST_CASE("kept simple Queries with SET values, by the column's type") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS kq_numbers, kq_numbers_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE TABLE kq_numbers (id int PRIMARY KEY, s smallint, n numeric(6,2), f real, "
         "b bigint, t text)");
    exec(direct, "INSERT INTO kq_numbers VALUES (1, 0, 0, 0, 0, '')");
    auto set = [](const char* s, const char* n, const char* f, const char* b, const char* id) {
        return q(std::string("UPDATE kq_numbers SET s = ") + s + ", n = " + n + ", f = " + f +
                 ", b = " + b + ", t = 5 WHERE id = " + id);
    };
    // Parameter types int4, numeric, numeric, int4, int4 (a text of other types is another
    // statement), the 5 in t stays text. More than 5 runs, so that the server may use a generic
    // plan, where a parameter's coercion is not folded.
    Steps steps = {set("1", "1.5", "2.5", "3", "1"), set("2", "12.345", "0.1", "4", "1"),
                   set("32767", "999.995", "123456789.5", "9", "1"),
                   set("-32768", "-999.99", "-1.5", "-3", "1")};
    for (const char* id : {"1", "2", "1", "2", "1", "2", "1", "2"})
        steps.push_back(set("3", "4.5", "5.5", "6", id));
    // No row: values whose coercion fails while planning.
    steps =
        steps +
        failing("UPDATE kq_numbers SET s = 40000, n = 1.5, f = 1.5, b = 1, t = 5 WHERE id = 2") +
        failing("UPDATE kq_numbers SET s = -32769, n = 1.5, f = 1.5, b = 1, t = 5 WHERE id = 2") +
        failing("UPDATE kq_numbers SET s = 1, n = 10000.5, f = 1.5, b = 1, t = 5 WHERE id = 2") +
        failing("UPDATE kq_numbers SET s = 1, n = 9999.995, f = 1.5, b = 1, t = 5 WHERE id = 2") +
        failing(
            "UPDATE kq_numbers SET s = 1, n = 1.5, f = 1.5, b = 99999999999999999999, t = 5 "
            "WHERE id = 2") +
        Steps{set("1", "9999.994", "1.5", "1", "2"), set("5", "1.5", "2.5", "3000000000", "1"),
              set("4", "5.5", "6.5", "7", "1"), q("SELECT s, n, f, b, t FROM kq_numbers")};
    Seen plain = run(TestEnv::get().cluster().port(), {steps}, true, "kq_numbers");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, kq_numbers]}");
    Seen seen = run(pgrev->port(), {steps}, true, "kq_numbers_rev");
    compare(plain, seen);
    CHECK(seen.revisions == 2);  // since the last failure rolled the others back
    // The 1st went as text; the 2nd, 3rd, the 8 after the 4th and the last fit: 11 runs of
    // one statement. The 4th is another shape (its minus signs), the one with a bigint another
    // statement.
    CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|11"});
    CHECK(seen.types == std::vector<std::string>{"{integer,numeric,numeric,integer,integer}"});
}

// A string SET value of a text, varchar or char column is a parameter too (of unspecified
// type: the server gives it the column's, as it gives the literal), where its coercion cannot
// fail; longer values, other types, backslashes, E'...' and continued strings stay text.
TEST_CASE("kept simple Queries with string SET values of text columns") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS kq_strings, kq_strings_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct,
         "CREATE TABLE kq_strings (id int PRIMARY KEY, t text, v varchar(5), c char(3), "
         "n name, d date)");
    exec(direct, "INSERT INTO kq_strings VALUES (1, '', '', '', '', '2026-01-01')");
    auto set = [](const std::string& t, const std::string& v, const std::string& c,
                  const char* id) {
        return q("UPDATE kq_strings SET t = " + t + ", v = " + v + ", c = " + c +
                 ", n = 'name', d = '2026-12-01' WHERE id = " + id);
    };
    // More than 5 runs, so that the server may use a generic plan.
    Steps steps = {set("'a'", "'abc'", "'x'", "1"), set("'it''s'", "'abcde'", "'xyz'", "1"),
                   set("''", "''", "''", "1"), set("'été'", "'éé'", "'é'", "1"),
                   set("'Guest 1'", "' a  '", "'a'", "1")};
    for (const char* id : {"1", "2", "1", "2", "1", "2"})
        steps.push_back(set("'Guest 2'", "'b'", "'b'", id));
    // No row: values whose coercion fails while planning, whichever row it is.
    steps = steps +
            failing(
                "UPDATE kq_strings SET t = 'a', v = 'abcdef', c = 'x', n = 'name', "
                "d = '2026-12-01' WHERE id = 2") +
            failing(
                "UPDATE kq_strings SET t = 'a', v = 'a', c = 'abcd', n = 'name', "
                "d = '2026-12-01' WHERE id = 2") +
            failing(
                "UPDATE kq_strings SET t = 'a', v = 'a', c = 'x', n = 'name', "
                "d = '2026-13-01' WHERE id = 2") +
            Steps{// Text: a backslash, a continued string, E'...'; then the kept one again.
                  set("'a\\b'", "'b'", "'b'", "1"), set("'ab'\n'cd'", "'b'", "'b'", "1"),
                  set("E'x\\ty'", "'b'", "'b'", "1"), set("'last'", "'b'", "'b'", "1"),
                  q("SELECT t, v, c, n, d FROM kq_strings ORDER BY id")};
    Seen plain = run(TestEnv::get().cluster().port(), {steps}, true, "kq_strings");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, kq_strings]}");
    Seen seen = run(pgrev->port(), {steps}, true, "kq_strings_rev");
    compare(plain, seen);
    CHECK(contains(plain.transcript, "value too long for type character varying(5)"));
    CHECK(contains(plain.transcript, "value too long for type character(3)"));
    CHECK(contains(plain.transcript, "date/time field value out of range"));
    CHECK(seen.revisions == 4);  // since the last failure rolled the others back
    // The 1st went as text; the 10 after it and the last were pgrev's statement. The values
    // too long, the date (a string into a date column stays text: another statement), the
    // backslash and the continued string (one slot of its shape, two tokens) went as text;
    // E'...' is another shape.
    CHECK(seen.kept.back() == std::vector<std::string>{"__pgrev_1|11"});
    CHECK(seen.types == std::vector<std::string>{"{text,\"character varying\",character,integer}"});
    CHECK(contains(seen.texts.at(0), "n = 'name', d = '2026-12-01'"));
}

// DDL through pgrev changes its catalog: the statement pgrev kept before it is not used after.
TEST_CASE("ALTER TABLE through pgrev between kept simple Queries") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS kq_ddl, kq_ddl_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, "CREATE TABLE kq_ddl (id int PRIMARY KEY, v int)");
    exec(direct, "INSERT INTO kq_ddl VALUES (1, 0)");
    const char* sql = "UPDATE kq_ddl SET v = # + (id - id) WHERE id = 1";
    std::vector<Steps> parts = {
        each(sql, {"1", "2", "3"}),
        Steps{q("ALTER TABLE kq_ddl ADD COLUMN note text")} + each(sql, {"4", "5", "6"}),
        Steps{q("ALTER TABLE kq_ddl DROP COLUMN note")} + each(sql, {"7", "8", "9"}) +
            Steps{q("SELECT * FROM kq_ddl")}};
    Seen plain = run(TestEnv::get().cluster().port(), parts, false, "kq_ddl");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, kq_ddl]}");
    Seen seen = run(pgrev->port(), parts, false, "kq_ddl_rev");
    compare(plain, seen);
    CHECK(seen.revisions == 9);
    CHECK(rows(direct, "SELECT v FROM kq_ddl_rev ORDER BY rev_created") ==
          std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7", "8", "9"});
    REQUIRE(seen.kept.size() == 3);
    CHECK_FALSE(seen.kept[0].empty());
    // No statement kept before a DDL is kept after it.
    for (std::size_t part = 1; part < 3; ++part)
        for (const std::string& after : seen.kept[part])
            for (const std::string& before : seen.kept[part - 1])
                CHECK(after.substr(0, after.find('|')) != before.substr(0, before.find('|')));
}
