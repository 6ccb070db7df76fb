// What pgrev adds to the client's SQL: every operator, function and type it names is named with
// its schema (a user's object earlier in search_path must not change what the revision insert
// or its guards mean), and the client's RETURNING expressions are also placed where PostgreSQL
// analyses RETURNING, so that it refuses aggregates, window and set-returning functions itself.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "audit/rewriter.h"
#include "audit/sql_lexer.h"
#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using test::plan;
using test::plan_with_guards;

namespace {

// Whether byte `at` of the rewritten text was copied from the client's text.
bool from_client(const audit::RewritePlan& p, std::size_t at) {
    for (const auto& piece : p.source_map) {
        if (at >= piece.out_begin && at < piece.out_begin + piece.length) return true;
    }
    return false;
}

// The names in the text pgrev generated (outside the client's pieces) that the server would
// look up through search_path: operators outside OPERATOR(pg_catalog.x), casts to types not
// written schema.type, calls of functions not written schema.function.
std::string unqualified_names(const audit::RewritePlan& p) {
    std::string_view sql = p.sql;
    std::vector<audit::Token> tokens = audit::lex_sql(sql);
    auto text = [&](std::size_t i) {
        return i < tokens.size()
                   ? std::string(sql.substr(tokens[i].begin, tokens[i].end - tokens[i].begin))
                   : std::string();
    };
    auto lower = [](std::string s) {
        for (char& c : s)
            c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    // Words the grammar turns into a fixed construct, never looked up as functions.
    const std::vector<std::string> grammar = {"row",     "operator", "extract",      "as",
                                              "lateral", "select",   "materialized", "where"};
    std::string found;
    auto add = [&](const std::string& name) { found += (found.empty() ? "" : " ") + name; };
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (from_client(p, tokens[i].begin)) continue;
        const audit::Token& t = tokens[i];
        if (t.kind == audit::TokenKind::Other) {
            // `.` of a qualified name, `*` of `x.*`; else an operator: the run of adjacent
            // operator characters.
            // `*` of `count(*)` too.
            if (text(i) == "." ||
                (text(i) == "*" && i > 0 && (text(i - 1) == "." || text(i - 1) == "("))) {
                continue;
            }
            std::size_t j = i;
            std::string op = text(i);
            while (j + 1 < tokens.size() && tokens[j + 1].kind == audit::TokenKind::Other &&
                   tokens[j + 1].begin == tokens[j].end && text(j + 1) != ".") {
                op += text(++j);
            }
            if (op == "::") {
                // A cast: the type must be schema.type.
                if (text(j + 2) != ".") add("::" + text(j + 1));
                i = j;
                continue;
            }
            bool qualified = i >= 4 && lower(text(i - 4)) == "operator" && text(i - 3) == "(" &&
                             text(i - 2) == "pg_catalog" && text(i - 1) == ".";
            if (!qualified) add(op);
            i = j;
            continue;
        }
        if (t.kind == audit::TokenKind::Word && text(i + 1) == "(") {
            std::string word = lower(text(i));
            bool known = std::find(grammar.begin(), grammar.end(), word) != grammar.end();
            if (!known && !(i > 0 && text(i - 1) == ".")) add(word + "(");
        }
    }
    return found;
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE(
        "rewriter: what pgrev generates names every operator, function and type with "
        "its schema") {
        for (const char* sql : {
                 "UPDATE reservation SET party = party + 1 WHERE id = 1",
                 "INSERT INTO reservation (name) VALUES ('a' || 'b') RETURNING id, lower(name)",
                 "DELETE FROM reservation WHERE id = 1 RETURNING *",
                 "DELETE FROM invoice WHERE no = 1",
                 "UPDATE reservation r SET party = 1 FROM (SELECT 1 AS id) s WHERE r.id = s.id "
                 "RETURNING r, s.id, lower(r.name)",
                 "UPDATE reservation SET party = 1 RETURNING xmax = 0, tableoid::regclass",
                 "WITH u AS (DELETE FROM reservation RETURNING *) SELECT * FROM u",
                 "UPDATE reservation SET party = 2 RETURNING *, count(*) OVER ()",
             }) {
            INFO("sql: " << std::string(sql));
            audit::RewritePlan p = plan_with_guards(sql);
            CHECK_ACTION(p, Rewrite);
            CHECK(unqualified_names(p) == "");
        }
        // The scan itself finds what the old guard had.
        audit::RewritePlan old = plan_with_guards("UPDATE reservation SET party = 1");
        old.sql += " WHERE pg_catalog.to_regclass('x') = 'y'::regclass AND now() > 'z'::float8";
        CHECK(unqualified_names(old) == "= ::regclass now( > ::float8");
    }

    TEST_CASE(
        "rewriter: RETURNING expressions with calls are analysed in the DML's RETURNING "
        "too") {
        auto p = plan("UPDATE reservation SET party = 1 RETURNING count(*)");
        CHECK_ACTION(p, Rewrite);
        CHECK_CONTAINS(p.sql,
                       "RETURNING \"reservation\".*, CASE WHEN false THEN ROW(count(*)) END AS "
                       "__pgrev_check)");
        CHECK(p.sql.ends_with(" SELECT count(*) FROM __pgrev_dml AS \"reservation\""));

        // Aliases and bare `*` items are left out of the check; the projection is unchanged.
        auto a = plan(
            "INSERT INTO reservation AS r (name) VALUES ('x') RETURNING lower(name) AS l, "
            "upper(r.name) u, id, r.party \"P\"");
        CHECK_CONTAINS(a.sql,
                       "CASE WHEN false THEN ROW(lower(name), upper(r.name), id, r.party) END AS "
                       "__pgrev_check)");
        CHECK(
            a.sql.ends_with(" SELECT lower(name) AS l, upper(r.name) u, id, r.party \"P\" FROM "
                            "__pgrev_dml AS \"r\""));

        // Commas inside parentheses and ARRAY[...] brackets do not end an item.
        auto nested = plan(
            "UPDATE reservation r SET party = 1 RETURNING ARRAY[r.id, r.party] AS ints, "
            "ARRAY[[1, 2], [3, 4]] m, jsonb_build_object('a', (1, 2)) AS doc, r.a[1:2]");
        CHECK_CONTAINS(nested.sql,
                       "CASE WHEN false THEN ROW(ARRAY[r.id, r.party], ARRAY[[1, 2], [3, 4]], "
                       "jsonb_build_object('a', (1, 2)), r.a[1:2]) END AS __pgrev_check)");

        // No call, no check.
        auto plain = plan("UPDATE reservation SET party = 1 RETURNING id, party * 2 AS seats");
        CHECK_NOT_CONTAINS(plain.sql, "__pgrev_check");

        // `*`, `t.*` or the whole row would show the check column: the rows come back as a
        // whole-row value instead.
        for (const char* sql : {"UPDATE reservation SET party = 1 RETURNING *, lower(name)",
                                "UPDATE reservation r SET party = 1 RETURNING r.*, lower(name)",
                                "UPDATE reservation r SET party = 1 RETURNING row_to_json(r)"}) {
            INFO("sql: " << std::string(sql));
            auto w = plan(sql);
            CHECK_ACTION(w, Rewrite);
            CHECK_CONTAINS(w.sql, "::\"public\".\"reservation\" AS __pgrev_row, CASE WHEN false");
            CHECK_CONTAINS(w.sql, "LATERAL (SELECT (__pgrev_row).*) AS ");
        }
        // With system columns `*` lists the table's columns: no whole-row value needed.
        auto sys = plan("UPDATE reservation SET party = 1 RETURNING *, xmax, lower(name)");
        CHECK_CONTAINS(sys.sql,
                       "\"reservation\".xmax AS xmax, CASE WHEN false THEN ROW(xmax, "
                       "lower(name)) END AS __pgrev_check)");
        CHECK_NOT_CONTAINS(sys.sql, "__pgrev_row");

        // UPDATE ... FROM: the FROM items are in scope of the DML's RETURNING as written.
        auto from = plan(
            "UPDATE reservation r SET party = o.n FROM other o WHERE o.id = r.id RETURNING "
            "sum(o.n) OVER ()");
        CHECK_CONTAINS(from.sql,
                       "ROW(\"o\".*)::\"other\" AS __pgrev_from1, CASE WHEN false THEN "
                       "ROW(sum(o.n) OVER ()) END AS __pgrev_check)");
    }

    TEST_CASE("rewriter: an error in the RETURNING check maps back to the client's text") {
        std::string sql = "UPDATE reservation SET party = 1 RETURNING id, generate_series(1, 3)";
        auto p = plan_with_guards(sql);
        CHECK_ACTION(p, Rewrite);
        // The server reports the first occurrence, the one in the DML's RETURNING.
        std::size_t in_check = p.sql.find("generate_series");
        REQUIRE(in_check < p.sql.find("__pgrev_check"));
        CHECK(p.original_error_position(static_cast<int>(in_check) + 1) ==
              static_cast<int>(sql.find("generate_series")) + 1);
    }

    TEST_CASE("rewriter: the search_path guard's failure is recognised, in any language") {
        auto p = plan_with_guards("UPDATE reservation SET party = 1");
        std::size_t begin = p.sql.find("'pgrev: search_path finds");
        REQUIRE(begin != std::string::npos);
        std::string guard = p.sql.substr(begin + 1, p.sql.find('\'', begin + 1) - begin - 1);
        CHECK(guard ==
              "pgrev: search_path finds another table named reservation first; name the "
              "audited one with its schema");
        CHECK(audit::search_path_guard_message(
                  "22P02", "invalid input syntax for type integer: \"" + guard + "\"") == guard);
        CHECK(audit::search_path_guard_message(
                  "22P02", "ungültige Eingabesyntax für Typ integer: »" + guard + "«") == guard);
        // Another error, or the client's own cast of another text, is left alone.
        CHECK(audit::search_path_guard_message("22003", "\"" + guard + "\"").empty());
        CHECK(audit::search_path_guard_message(
                  "22P02", "invalid input syntax for type integer: \"pgrev: x\"")
                  .empty());
        CHECK(audit::search_path_guard_message(
                  "22P02",
                  "invalid input syntax for type integer: \"pgrev: search_path finds "
                  "another table named reservation\"")
                  .empty());
    }
}
