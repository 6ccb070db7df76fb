// plan_rewrite on arbitrary SQL (cut at the first NUL, as a Query's text would be), against the
// reservation/invoice catalog of the unit tests and against one where a configured table is
// missing, with both catalog_is_fresh values and with the policy's allowances off and on.
//
// pgrev catches std::exception around the planner, but an exception there turns the statement
// into a refusal: any exception is a finding here, so it aborts. Invariants checked:
//   - Rewrite/Refuse: `sql` is non-empty and parses with libpg_query, into as many statements
//     as the input has;
//   - Rewrite: every INSERT/UPDATE/DELETE of an audited table in the input is still there and
//     has exactly one revision INSERT more; Forward: the input has none (definitions such as
//     CREATE FUNCTION/RULE and plain EXPLAIN do not count: they do not write now);
//   - Rewrite/Refuse: every source_map piece lies within the input and the output, in order,
//     and the output holds the input's bytes there;
//   - when the input parses into a tree pgrev can read (and the planner did not stop for the
//     catalog): one StatementPlan per statement libpg_query finds;
//   - NeedCatalog only with a stale snapshot that lacks a configured table the text writes;
//   - the catalog's freshness does not matter when the snapshot has every configured table;
//   - error positions map back into the input.
#include <pg_query.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "audit/catalog.h"
#include "audit/parse_tree.h"
#include "audit/rewriter.h"
#include "tests/audit/rewrite_fixture.h"

using namespace pgrev;
using audit::RewritePlan;

namespace {

[[noreturn]] void fail(const char* what, const char* detail = "") {
    std::fprintf(stderr, "fuzz_rewriter: invariant failed: %s %s\n", what, detail);
    std::abort();
}
#define CHECK(cond)               \
    do {                          \
        if (!(cond)) fail(#cond); \
    } while (false)

// The fixture's catalog plus a configured table that this database lacks.
audit::CatalogSnapshot catalog_with_missing_table() {
    audit::CatalogSnapshot full = test::reservation_catalog();
    auto configured = full.configured();
    config::AuditedTable ledger;
    ledger.schema = "billing";
    ledger.name = "ledger";
    configured.push_back(ledger);
    return audit::CatalogSnapshot(configured, full.tables());
}

config::Audit allow_all() {
    config::Audit policy;
    policy.allow_truncate = true;
    policy.allow_copy_from = true;
    policy.allow_merge = true;
    policy.allow_unparsable = true;
    policy.allow_rev_table_changes = true;
    return policy;
}

constexpr int kDoesNotParse = -1;
// libpg_query parses the text but its JSON is not valid, as when the text is not valid UTF-8
// (it copies the bytes): pgrev's parse_sql then treats the text as unparsable.
constexpr int kUnreadableTree = -2;

// Statements libpg_query finds in `sql`, or one of the two codes above; `tree` gets the parse
// tree when it is readable.
int count_statements(const std::string& sql, std::string* error = nullptr,
                     nlohmann::json* tree = nullptr) {
    // Read as pgrev reads it (bytes that are not UTF-8 as 'x').
    std::string text = audit::with_invalid_utf8_replaced(sql);
    PgQueryParseResult r = pg_query_parse(text.c_str());
    int count = kDoesNotParse;
    if (r.error != nullptr) {
        if (error != nullptr && r.error->message != nullptr) *error = r.error->message;
    } else {
        auto parsed = nlohmann::json::parse(r.parse_tree, nullptr, false);
        count = parsed.is_discarded()
                    ? kUnreadableTree
                    : static_cast<int>(parsed.value("stmts", nlohmann::json::array()).size());
        if (tree != nullptr && !parsed.is_discarded()) *tree = std::move(parsed);
    }
    pg_query_free_parse_result(r);
    return count;
}

// INSERT/UPDATE/DELETE nodes of a parse tree that run when it runs (definitions and plain
// EXPLAIN are left out), by what they write.
struct Writes {
    int audited = 0;      // of a configured table
    int rev_inserts = 0;  // INSERTs into a revision table
};

void count_writes(const nlohmann::json& node, const audit::CatalogSnapshot& catalog, Writes& w) {
    if (node.is_array()) {
        for (const auto& item : node)
            count_writes(item, catalog, w);
        return;
    }
    if (!node.is_object()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string& key = it.key();
        const nlohmann::json& value = it.value();
        if (!value.is_object()) {
            count_writes(value, catalog, w);
            continue;
        }
        if (key == "CreateFunctionStmt" || key == "RuleStmt" || key == "ExplainStmt") continue;
        if (key == "InsertStmt" || key == "UpdateStmt" || key == "DeleteStmt") {
            const nlohmann::json& rel = value.value("relation", nlohmann::json::object());
            audit::TableMatch m =
                catalog.match(rel.value("schemaname", ""), rel.value("relname", ""));
            if (m.kind == audit::TableMatch::Kind::Audited ||
                m.kind == audit::TableMatch::Kind::AuditedUnknown) {
                ++w.audited;
            } else if (m.kind == audit::TableMatch::Kind::RevTable && key == "InsertStmt") {
                ++w.rev_inserts;
            }
        }
        count_writes(value, catalog, w);
    }
}

int utf8_chars(std::string_view s) {
    int n = 0;
    for (char c : s)
        if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
    return n;
}

struct Input {
    std::string sql;
    int statements;       // count_statements
    nlohmann::json tree;  // when readable
};

[[noreturn]] void fail_with_text(const char* what, const RewritePlan& plan) {
    std::fprintf(stderr, "pgrev sends:\n%s\n", plan.sql.c_str());
    fail(what);
}

void check_plan(const RewritePlan& plan, const Input& in, const audit::CatalogSnapshot& catalog,
                bool catalog_is_fresh) {
    using Action = RewritePlan::Action;
    const std::string& sql = in.sql;
    const int statements = in.statements;
    Writes in_writes;
    if (statements >= 0) count_writes(in.tree, catalog, in_writes);
    if (plan.action == Action::Rewrite || plan.action == Action::Refuse) {
        CHECK(!plan.sql.empty());
        std::string error;
        nlohmann::json out_tree;
        int out_statements = count_statements(plan.sql, &error, &out_tree);
        if (out_statements == kDoesNotParse) {
            std::fprintf(stderr, "libpg_query: %s\n", error.c_str());
            fail_with_text("the text pgrev sends does not parse", plan);
        }
        // Each statement becomes one statement: the server answers each once.
        if (statements >= 0 && out_statements >= 0 && out_statements != statements) {
            std::fprintf(stderr, "the input has %d statements, the text pgrev sends %d\n",
                         statements, out_statements);
            fail_with_text("pgrev sends a different number of statements", plan);
        }
        // Nothing that writes an audited table is lost or added, and each gets a revision.
        if (plan.action == Action::Rewrite && statements >= 0 && out_statements >= 0) {
            Writes out;
            count_writes(out_tree, catalog, out);
            if (out.audited != in_writes.audited ||
                out.rev_inserts - in_writes.rev_inserts != in_writes.audited) {
                std::fprintf(
                    stderr, "audited writes: %d in, %d out; revision inserts: %d in, %d out\n",
                    in_writes.audited, out.audited, in_writes.rev_inserts, out.rev_inserts);
                fail_with_text("a write of an audited table without its revision insert", plan);
            }
        }
        if (plan.action == Action::Refuse) {
            CHECK(!plan.refusal_message.empty());
            CHECK(plan.refusal_sqlstate.size() == 5);
        }
    } else {
        CHECK(plan.sql.empty());
        // Forwarded as it is: then nothing in it writes an audited table where it runs.
        if (plan.action == Action::Forward && statements >= 0 && in_writes.audited != 0) {
            fail("a write of an audited table is forwarded untouched");
        }
    }
    if (!plan.source_map.empty()) {
        CHECK(plan.original == sql);
        std::size_t out_end = 0;
        for (const auto& piece : plan.source_map) {
            CHECK(piece.length > 0);
            CHECK(piece.source_begin <= sql.size() &&
                  piece.length <= sql.size() - piece.source_begin);
            CHECK(piece.out_begin <= plan.sql.size() &&
                  piece.length <= plan.sql.size() - piece.out_begin);
            CHECK(piece.out_begin >= out_end);
            out_end = piece.out_begin + piece.length;
            CHECK(plan.sql.compare(piece.out_begin, piece.length, sql, piece.source_begin,
                                   piece.length) == 0);
        }
        int chars = utf8_chars(plan.sql);
        int source_chars = utf8_chars(sql);
        for (int position : {1, chars / 2 + 1, chars, chars + 3}) {
            int mapped = plan.original_error_position(position);
            CHECK(mapped >= 1 && mapped <= source_chars + 1);
        }
    }
    if (plan.action == Action::NeedCatalog) {
        CHECK(!catalog_is_fresh);
        CHECK(!plan.unknown_tables.empty());
        return;  // the planner stopped at the first statement that needs the catalog
    }
    if (statements >= 0) {
        if (static_cast<int>(plan.statements.size()) != statements) {
            std::fprintf(stderr, "libpg_query finds %d statements, the plan has %zu\n", statements,
                         plan.statements.size());
            fail("one StatementPlan per statement");
        }
    } else {
        // Unparsable for pgrev: refused as one statement, or forwarded untouched when allowed.
        CHECK(plan.statements.size() <= 1);
    }
}

RewritePlan plan_or_abort(std::string_view sql, const audit::CatalogSnapshot& catalog,
                          const config::Audit& policy, bool fresh) {
    try {
        return audit::plan_rewrite(sql, catalog, policy, fresh);
    } catch (const std::exception& e) {
        fail("plan_rewrite threw:", e.what());
    } catch (...) {
        fail("plan_rewrite threw something that is not a std::exception");
    }
}

bool same_plan(const RewritePlan& a, const RewritePlan& b) {
    return a.action == b.action && a.sql == b.sql && a.statements.size() == b.statements.size() &&
           a.refusal_message == b.refusal_message && a.changes_catalog == b.changes_catalog &&
           a.audits == b.audits;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view raw(reinterpret_cast<const char*>(data), size);
    std::string sql(raw.substr(0, raw.find('\0')));
    static const audit::CatalogSnapshot full = test::reservation_catalog();
    static const audit::CatalogSnapshot missing = catalog_with_missing_table();
    static const config::Audit strict;
    static const config::Audit lenient = allow_all();

    Input in{sql, 0, {}};
    in.statements = count_statements(sql, nullptr, &in.tree);
    for (const config::Audit* policy : {&strict, &lenient}) {
        RewritePlan fresh = plan_or_abort(sql, full, *policy, true);
        check_plan(fresh, in, full, true);
        RewritePlan stale = plan_or_abort(sql, full, *policy, false);
        check_plan(stale, in, full, false);
        if (!same_plan(fresh, stale)) fail("catalog_is_fresh matters with a complete snapshot");
        for (bool catalog_is_fresh : {true, false}) {
            check_plan(plan_or_abort(sql, missing, *policy, catalog_is_fresh), in, missing,
                       catalog_is_fresh);
        }
    }
    return 0;
}
