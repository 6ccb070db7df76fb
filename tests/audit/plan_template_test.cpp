// The shape cache's two halves: statement_shape (which texts share a shape) and PlanTemplate
// (the plan of one text filled in for another of its shape). The property that matters: for
// every text of a shape, the filled-in plan is the plan the rewriter makes for that text —
// the same SQL, tags, books and error-position map.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/plan_template.h"
#include "audit/rewriter.h"
#include "audit/statement_shape.h"
#include "rewrite_fixture.h"
#include "sql_checks.h"

using namespace pgrev;
using audit::PlanTemplate;
using audit::RewritePlan;
using audit::statement_shape;

namespace {

const audit::CatalogSnapshot& catalog() {
    static const audit::CatalogSnapshot c = test::reservation_catalog_with_code();
    return c;
}

RewritePlan plan(std::string_view sql) {
    return audit::plan_rewrite(sql, catalog(), {}, true);
}

std::shared_ptr<const PlanTemplate> template_of(std::string_view sql) {
    RewritePlan p = plan(sql);
    return PlanTemplate::make(sql, statement_shape(sql), p, plan, &catalog());
}

// The parameterized form of `text`, filled into the template of `made_from` (of the same
// shape); null when it has none.
std::shared_ptr<const audit::ParameterizedPlan> form_of(const std::string& made_from,
                                                        const std::string& text) {
    auto t = template_of(made_from);
    REQUIRE(t != nullptr);
    return t->fill(text, statement_shape(text)).parameterized;
}

// Every error position the server could report in the rewritten text maps to the same place.
void check_same_positions(const RewritePlan& filled, const RewritePlan& made) {
    for (int pos = 1; pos <= static_cast<int>(made.sql.size()) + 1; ++pos) {
        CAPTURE(pos);
        CHECK(filled.original_error_position(pos) == made.original_error_position(pos));
    }
}

void check_fills_like_the_rewriter(std::string_view first, std::string_view second) {
    INFO("first: " << std::string(first));
    INFO("second: " << std::string(second));
    auto shape = statement_shape(first);
    auto other = statement_shape(second);
    REQUIRE(shape.usable);
    REQUIRE(other.usable);
    REQUIRE(shape.key == other.key);
    auto t = template_of(first);
    REQUIRE(t != nullptr);
    RewritePlan filled = t->fill(second, other);
    RewritePlan made = plan(second);
    CHECK(filled.action == made.action);
    CHECK(filled.sql == made.sql);
    CHECK(filled.original == made.original);
    CHECK(filled.audits == made.audits);
    REQUIRE(filled.statements.size() == made.statements.size());
    for (std::size_t i = 0; i < made.statements.size(); ++i) {
        CHECK(filled.statements[i].restore_tag == made.statements[i].restore_tag);
    }
    check_same_positions(filled, made);
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("statement_shape: literals and comments are slots, everything else is the key") {
        auto a = statement_shape("UPDATE t SET a = 1, b = 'x' WHERE c = E'\\n' /* trace=1 */");
        auto b = statement_shape(
            "UPDATE t SET a = 12.5e3, b = 'it''s' WHERE c = e'y' /* trace=abcdef */");
        REQUIRE(a.usable);
        CHECK(a.key == b.key);
        CHECK(a.slots.size() == 4);
        CHECK(a.key ==
              "UPDATE t SET a = \x01n, b = \x01s WHERE c = \x01"
              "e \x01"
              "c");
        // Line comments; a string continued on the next line is one slot.
        auto c = statement_shape("SELECT 'a'\n'b' -- x\n");
        REQUIRE(c.usable);
        CHECK(c.slots.size() == 2);
        CHECK(c.key == "SELECT \x01s \x01l\n");  // ('s' and 'l' are no hex digits)

        // Names, keywords, operators, white space, other literals: part of the key.
        std::string base = statement_shape("UPDATE t SET a = 1").key;
        for (const char* sql : {"UPDATE u SET a = 1", "UPDATE t SET a = -1", "UPDATE t SET a =  1",
                                "UPDATE t SET a = '1'", "UPDATE \"t\" SET a = 1",
                                "update t SET a = 1", "UPDATE t SET a = $1"}) {
            CAPTURE(sql);
            CHECK(statement_shape(sql).key != base);
        }
        for (const char* sql : {"SELECT B'101'", "SELECT X'1f'", "SELECT U&'d\\0061t'",
                                "SELECT $$x$$", "SELECT $q$x$q$"}) {
            CAPTURE(sql);
            CHECK(statement_shape(sql).slots.empty());
        }
        // A byte the key could not tell from a slot, and unterminated text: not taken.
        CHECK_FALSE(statement_shape("SELECT 'a\x01'").usable);
        CHECK_FALSE(statement_shape("SELECT 'a").usable);
        CHECK_FALSE(statement_shape("SELECT 1 /* a").usable);
        CHECK_FALSE(statement_shape("SELECT \"a").usable);
    }

    TEST_CASE("plan template: a filled-in plan is the rewriter's plan for that text") {
        const std::vector<std::pair<std::string, std::string>> pairs = {
            {"UPDATE reservation SET party = 4 WHERE id = 7",
             "UPDATE reservation SET party = 12345 WHERE id = 0"},
            {"UPDATE reservation SET name = 'a' WHERE id = 1 /* traceparent='00-1-01' */",
             "UPDATE reservation SET name = 'it''s longer' WHERE id = 99 /* traceparent='00-"
             "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */"},
            {"INSERT INTO reservation (name, date, party) VALUES ('x', DATE '2024-01-01', 2) "
             "RETURNING id",
             "INSERT INTO reservation (name, date, party) VALUES ('xyz', DATE '1999-12-31', 20) "
             "RETURNING id"},
            {"INSERT INTO \"reservation\" (\"name\", \"party\") VALUES (E'a\\tb', 1), ('c', 2) "
             "RETURNING \"reservation\".\"id\", 'k' || name AS k",
             "INSERT INTO \"reservation\" (\"name\", \"party\") VALUES (E'\\'', 10), ('dd', 22) "
             "RETURNING \"reservation\".\"id\", 'kk' || name AS k"},
            {"DELETE FROM reservation WHERE id = 3 RETURNING *, 1 + 2 AS three",
             "DELETE FROM reservation WHERE id = 33 RETURNING *, 11 + 22 AS three"},
            {"DELETE FROM billing.invoice WHERE no = 5 AND year = 2020",
             "DELETE FROM billing.invoice WHERE no = 500 AND year = 1999"},
            {"-- a leading comment\nUPDATE reservation SET party = party + 1 WHERE name = 'a'",
             "-- another, longer, leading comment\nUPDATE reservation SET party = party + 10 "
             "WHERE name = 'bbb'"},
            {"WITH u AS (UPDATE reservation SET party = 1 WHERE id = 2 RETURNING id, 'x' AS tag) "
             "SELECT * FROM u WHERE tag <> 'y'",
             "WITH u AS (UPDATE reservation SET party = 100 WHERE id = 200 RETURNING id, 'xx' AS "
             "tag) SELECT * FROM u WHERE tag <> 'yy'"},
            {"UPDATE reservation r SET party = v.p FROM (VALUES (1, 2)) AS v(id, p) WHERE r.id = "
             "v.id RETURNING r.*, v.p * 3",
             "UPDATE reservation r SET party = v.p FROM (VALUES (10, 20)) AS v(id, p) WHERE r.id "
             "= v.id RETURNING r.*, v.p * 30"},
            {"INSERT INTO reservation (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET "
             "name = 'b' /*x*/ RETURNING name",
             "INSERT INTO reservation (id, name) VALUES (11, 'aa') ON CONFLICT (id) DO UPDATE SET "
             "name = 'bb' /*xyz*/ RETURNING name"},
            {"UPDATE reservation SET party = 1; SELECT 'a' FROM reservation; DELETE FROM "
             "reservation WHERE id = 2",
             "UPDATE reservation SET party = 10; SELECT 'aa' FROM reservation; DELETE FROM "
             "reservation WHERE id = 20"},
            {"SELECT * FROM reservation WHERE id = 1", "SELECT * FROM reservation WHERE id = 2"},
            {"UPDATE reservation SET name = 'a'\n'b' -- c\n WHERE id = 1.5e3",
             "UPDATE reservation SET name = 'aa'\n'bb' -- cc\n WHERE id = 2.75e10"},
        };
        for (const auto& [first, second] : pairs) {
            check_fills_like_the_rewriter(first, second);
        }
    }

    TEST_CASE("plan template: none for statements whose plan may depend on a constant") {
        for (const char* sql : {
                 "DO 'BEGIN UPDATE reservation SET party = 1; END'",
                 "DO $$BEGIN PERFORM 1; END$$",
                 "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                 "EXPLAIN (ANALYZE 0) UPDATE reservation SET party = 1",
                 "PREPARE p AS UPDATE reservation SET party = 1",
                 "ALTER TABLE reservation ADD COLUMN note text DEFAULT 'x'",
                 "SET work_mem = '64MB'",
                 "SELECT public.archive(1)",  // refused: it reaches reservation
                 "UPDATE reservation SET party = 1; SET search_path = 'x'",
             }) {
            CAPTURE(sql);
            CHECK(template_of(sql) == nullptr);
        }
        CHECK(template_of("UPDATE reservation SET party = 1") != nullptr);
        // No slot: the cache by text is enough.
        CHECK(template_of("UPDATE reservation SET party = party") == nullptr);
    }

    TEST_CASE("plan template: a plan that holds a constant's value in generated text is not one") {
        // A rewrite that copied a literal's value into the SQL it generates (rather than as a
        // piece of the client's text) would be filled in with the first text's value: the
        // probe text shows it.
        auto planner = [](std::string_view text) {
            RewritePlan p;
            p.action = RewritePlan::Action::Rewrite;
            p.literal_blind = true;
            p.sql = "SELECT " + std::string(text.substr(text.find('\'')));
            p.original = std::string(text);
            return p;
        };
        std::string sql = "SELECT 'abc'";
        RewritePlan p = planner(sql);
        CHECK(PlanTemplate::make(sql, statement_shape(sql), p, planner) == nullptr);
        // The same plan with the literal as a copied piece is a template.
        auto copying = [](std::string_view text) {
            audit::Splice out(text);
            out.add("SELECT ").copy(7, text.size());
            RewritePlan p;
            p.action = RewritePlan::Action::Rewrite;
            p.literal_blind = true;
            p.sql = out.text();
            p.source_map = out.pieces();
            p.original = std::string(text);
            return p;
        };
        RewritePlan c = copying(sql);
        auto t = PlanTemplate::make(sql, statement_shape(sql), c, copying);
        REQUIRE(t != nullptr);
        CHECK(t->fill("SELECT 'xy'", statement_shape("SELECT 'xy'")).sql == "SELECT 'xy'");
    }

    TEST_CASE("plan template: the parameterized form has the numbers as typed parameters") {
        std::string first =
            "UPDATE reservation SET party = party + 4, name = 'a' WHERE id = 7 AND name <> 'q'";
        std::string second =
            "UPDATE reservation SET party = party + 12, name = 'b' WHERE id = "
            "3000000000 AND name <> 'r'";
        auto t = template_of(first);
        REQUIRE(t != nullptr);
        RewritePlan filled = t->fill(second, statement_shape(second));
        REQUIRE(filled.parameterized != nullptr);
        const audit::ParameterizedPlan& form = *filled.parameterized;
        // The string SET into the text column is one too, of unspecified type (the column's).
        CHECK(form.types == std::vector<std::uint32_t>{audit::kInt4Oid, 0, audit::kInt8Oid});
        CHECK(form.values == std::vector<std::string>{"12", "b", "3000000000"});
        const std::string& p = form.plan.sql;
        CHECK(p.find("12") == std::string::npos);
        CHECK(p.find("3000000000") == std::string::npos);
        CHECK(p.find("'b'") == std::string::npos);
        CHECK(p.find("'r'") != std::string::npos);  // other strings stay text
        CHECK(audit::parses_with_parameters(p, 3));
        // The same plan but for its text: tags, audits, the client's text.
        CHECK(form.plan.action == filled.action);
        CHECK(form.plan.audits);
        CHECK(form.plan.original == second);
        REQUIRE(form.plan.statements.size() == 1);
        CHECK(form.plan.statements[0].restore_tag == filled.statements[0].restore_tag);
        // An error at a parameter points at its literal; one after it where it was.
        auto position_in_p = [&](const std::string& needle) {
            return static_cast<int>(p.find(needle)) + 1;
        };
        auto position_in_text = [&](const std::string& needle) {
            return static_cast<int>(second.find(needle)) + 1;
        };
        CHECK(form.plan.original_error_position(position_in_p("$3")) ==
              position_in_text("3000000000"));
        CHECK(form.plan.original_error_position(position_in_p("$2")) == position_in_text("'b'"));
        CHECK(form.plan.original_error_position(position_in_p("'r'")) == position_in_text("'r'"));
        // A decimal is numeric; a negated value its own type, unless folding changes it.
        std::string neg1 = "UPDATE reservation SET party = party + -5 WHERE id = 1.5";
        std::string neg2 = "UPDATE reservation SET party = party + -2147483648 WHERE id = 2.5";
        auto tn = template_of(neg1);
        REQUIRE(tn != nullptr);
        RewritePlan n1 = tn->fill(neg1, statement_shape(neg1));
        REQUIRE(n1.parameterized != nullptr);
        CHECK(n1.parameterized->types ==
              std::vector<std::uint32_t>{audit::kInt4Oid, audit::kNumericOid});
        CHECK(n1.parameterized->plan.sql.find("+ -$1") != std::string::npos);
        CHECK(tn->fill(neg2, statement_shape(neg2)).parameterized == nullptr);
    }

    TEST_CASE("plan template: the parameterized form leaves the comments out") {
        std::string first =
            "/* a */ UPDATE reservation SET party = party + 4 -- b\nWHERE id = 7 /*c*/";
        std::string second =
            "/* request 81 */ UPDATE reservation SET party = party + 5 -- by 81\nWHERE id = 8 "
            "/*traceparent='00-81-01'*/";
        auto second_form = form_of(first, second);
        REQUIRE(second_form != nullptr);
        const audit::ParameterizedPlan& form = *second_form;
        CHECK_FALSE(form.text_has_parameters);
        CHECK(form.values == std::vector<std::string>{"5", "8"});
        const std::string& p = form.plan.sql;
        for (const char* gone : {"/*", "--", "request", "81", "traceparent"}) {
            CAPTURE(gone);
            CHECK(p.find(gone) == std::string::npos);
        }
        // The same form for the first text: comments do not change it.
        auto first_form = form_of(first, first);
        REQUIRE(first_form != nullptr);
        CHECK(first_form->plan.sql == p);
        // Positions after a comment map to the client's text.
        CHECK(form.plan.original_error_position(static_cast<int>(p.find("WHERE id")) + 1) ==
              static_cast<int>(second.find("WHERE id")) + 1);
        CHECK(form.plan.original_error_position(static_cast<int>(p.find("party +")) + 1) ==
              static_cast<int>(second.find("party +")) + 1);
        // A planner hint stays: texts with other hints are other statements.
        std::string hinted =
            "/*+ IndexScan(reservation) */ UPDATE reservation SET party = party + 5 -- by 81\n"
            "WHERE id = 8 /*traceparent='00-81-01'*/";
        auto hinted_form = form_of(first, hinted);
        REQUIRE(hinted_form != nullptr);
        const std::string& h = hinted_form->plan.sql;
        CHECK(h.find("/*+ IndexScan(reservation) */") != std::string::npos);
        CHECK(h.find("traceparent") == std::string::npos);
        CHECK(
            hinted_form->plan.original_error_position(static_cast<int>(h.find("IndexScan")) + 1) ==
            static_cast<int>(hinted.find("IndexScan")) + 1);
        // A text with parameters of its own (an unnamed Parse): its numbers stay text, the
        // comments go.
        std::string own = "UPDATE reservation SET party = $1 + 4 WHERE id = 7 /* span 9 */";
        auto own_form = form_of(own, own);
        REQUIRE(own_form != nullptr);
        CHECK(own_form->text_has_parameters);
        CHECK(own_form->types.empty());
        CHECK(own_form->plan.sql.find("span") == std::string::npos);
        CHECK(own_form->plan.sql.find("$1 + 4 WHERE id = 7") != std::string::npos);
        // Without comments such a text has no form.
        std::string bare = "UPDATE reservation SET party = $1 + 4 WHERE id = 7";
        CHECK(form_of(bare, bare) == nullptr);
    }

    TEST_CASE("plan template: no parameterized form where a prepared rewrite could differ") {
        // Rows returned through `*` or a whole row, several statements, a statement not
        // audited.
        for (const char* sql :
             {"UPDATE reservation SET party = 4 WHERE id = 7 RETURNING *",
              "UPDATE reservation r SET party = 4 WHERE id = 7 RETURNING id, r",
              "UPDATE reservation SET party = 4 WHERE id = 7; UPDATE reservation SET party = 5",
              "UPDATE other SET a = 1 WHERE b = 2", "SELECT * FROM reservation WHERE id = 1"}) {
            CAPTURE(sql);
            auto t = template_of(sql);
            if (t == nullptr) continue;
            CHECK(t->fill(sql, statement_shape(sql)).parameterized == nullptr);
        }
        // RETURNING of named columns has one, a number in it a parameter too.
        std::string returning = "UPDATE reservation SET party = 4 WHERE id = 7 RETURNING id, 2";
        auto returning_form = form_of(returning, returning);
        REQUIRE(returning_form != nullptr);
        CHECK(returning_form->values == std::vector<std::string>{"4", "7", "2"});
        // A SET value's coercion to the column's type is folded in planning, where it fails
        // whether or not a row matches: a parameter only for a value that fits the column
        // (party is a smallint in this catalog); text for a column of another type.
        std::string set = "UPDATE reservation SET party = 4 WHERE id = 7";
        auto set_form = form_of(set, set);
        REQUIRE(set_form != nullptr);
        CHECK(set_form->values == std::vector<std::string>{"4", "7"});
        CHECK(set_form->plan.sql.find("party = $1") != std::string::npos);
        CHECK(form_of(set, "UPDATE reservation SET party = 40000 WHERE id = 7") == nullptr);
        std::string to_text = "UPDATE reservation SET name = 4 WHERE id = 7";
        auto text_form = form_of(to_text, to_text);
        REQUIRE(text_form != nullptr);
        CHECK(text_form->values == std::vector<std::string>{"7"});
        // numeric(10,2): up to 7 integer digits.
        std::string amount = "UPDATE billing.invoice SET amount = 1234567.891 WHERE no = 7";
        auto amount_form = form_of(amount, amount);
        REQUIRE(amount_form != nullptr);
        CHECK(amount_form->types ==
              std::vector<std::uint32_t>{audit::kNumericOid, audit::kInt4Oid});
        CHECK(form_of(amount, "UPDATE billing.invoice SET amount = 12345678.891 WHERE no = 7") ==
              nullptr);
        // An ordinal stays text; the LIMIT beside it is a parameter.
        std::string sql =
            "INSERT INTO reservation (name, party) SELECT name, party FROM reservation ORDER BY "
            "2 LIMIT 3";
        auto ordinal_form = form_of(sql, sql);
        REQUIRE(ordinal_form != nullptr);
        CHECK(ordinal_form->values == std::vector<std::string>{"3"});
        CHECK(ordinal_form->plan.sql.find("ORDER BY 2 LIMIT $1") != std::string::npos);
    }
}
