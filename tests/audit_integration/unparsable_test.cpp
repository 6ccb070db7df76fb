// Texts pgrev cannot parse (issue 7 items 12 and 17). A text that does not parse with
// libpg_query's grammar gets PostgreSQL's own error (position, hint) when the server runs the
// same major version; a text nested too deeply for any parser gets an error, and never takes
// the process (and every other session) down.
#include <doctest/doctest.h>

#include <string>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

std::string sum_of_ones(std::size_t terms, const std::string& head, const std::string& tail) {
    std::string sql = head + "1";
    for (std::size_t i = 1; i < terms; ++i)
        sql += "+1";
    return sql + tail;
}

void check_pgrev_serves_others() {
    CHECK(TestEnv::get().pgrev().running());
    PgConn other = connect_proxied();
    CHECK(rows(other, "SELECT 41 + 1") == std::vector<std::string>{"42"});
}

}  // namespace

TEST_CASE("a text that does not parse gets the server's own error, position and hint") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    // From PostgreSQL's regression suite (strings): U& escapes that libpg_query's grammar
    // refuses, as the server does. They used to get pgrev's refusal instead.
    const std::vector<std::pair<std::string, std::string>> texts = {
        {"invalid Unicode escapes", "SELECT U&'wrong: \\061'"},
        {"an invalid surrogate", "SELECT U&'\\db99'"},
        {"a UESCAPE that is not one character", "SELECT U&'wrong: +0061' UESCAPE '+'"},
        {"a syntax error in a statement on an audited table",
         "UPDATE reservation SET party = WHERE id = 100001"},
        {"a syntax error after a good statement",
         "UPDATE reservation SET party = 2 WHERE id = 100001; DELETE reservation"},
    };
    PgConn direct = connect_direct();
    if (rows(direct, "SELECT current_setting('server_version_num')::int / 10000") ==
        std::vector<std::string>{"15"}) {
        std::vector<AuditedStory> stories;
        for (const auto& [story, sql] : texts)
            stories.push_back(queries(story, {sql}, -1));
        run_stories(stories);
    } else {
        // Another major version may parse what PostgreSQL 15's grammar does not: pgrev
        // cannot know what the server would run, so it refuses, naming the grammar it has.
        std::string before = contents(direct, "reservation");
        for (const auto& [story, sql] : texts) {
            CAPTURE(story);
            PgConn c = connect_proxied();
            Outcome o = simple(c, sql);
            CHECK_MESSAGE(o.sqlstate == "42601", o.describe());
            CHECK_MESSAGE(o.message.find("PostgreSQL 15's grammar") != std::string::npos,
                          o.message);
        }
        CHECK(contents(direct, "reservation") == before);
    }
    check_pgrev_serves_others();
}

TEST_CASE("a deeply nested statement gets an error and harms no other session") {
    if (skip_without_pgrev()) return;
    // Analysed because of the word schema (DDL pgrev looks for), naming no audited table:
    // pgrev forwards it and the server answers 54001 itself.
    for (std::size_t terms : {60'000u, 100'000u, 300'000u}) {
        CAPTURE(terms);
        std::string sql = sum_of_ones(terms, "SELECT ", " /* schema */");
        expect_transparent("1+1+... with " + std::to_string(terms) + " terms",
                           [&](PgConn&, Transcript& t) { t.query(sql, soon()); });
        check_pgrev_serves_others();
    }
    // On an audited table pgrev refuses it (54001 too), before or after parsing.
    for (std::size_t terms : {60'000u, 300'000u}) {
        CAPTURE(terms);
        PgConn c = connect_proxied();
        Outcome o = simple(c, sum_of_ones(terms, "UPDATE reservation SET party = ", ""));
        CHECK(o.sqlstate == "54001");
        CHECK(o.message.rfind("pgrev: cannot audit a statement nested this deeply", 0) == 0);
        CHECK(rows(c, "SELECT 1") == std::vector<std::string>{"1"});  // still usable
        check_pgrev_serves_others();
    }
}
