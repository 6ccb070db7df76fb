// The SQL of `pgrev verify` and `pgrev baseline` (audit/history_check.h): one statement that
// PostgreSQL's grammar accepts, names quoted whatever their case, the latest revision chosen
// by rev_created then ctid, values compared as exact text. What the SQL finds on a real server
// is tested in tests/audit_integration/verify_test.cpp.
#include "audit/history_check.h"

#include <doctest/doctest.h>

#include <string>

#include "audit/parse_tree.h"
#include "sql_checks.h"

using namespace pgrev;
using pgrev::test::contains;

namespace {

audit::AuditedTableInfo table(std::vector<std::string> columns, std::vector<std::string> key,
                              std::string schema = "public", std::string name = "account") {
    audit::AuditedTableInfo t;
    t.schema = std::move(schema);
    t.name = std::move(name);
    t.columns = std::move(columns);
    t.primary_key = std::move(key);
    return t;
}

// One statement of the given kind ("SelectStmt", "InsertStmt"), as the server would read it.
std::string statement_kind(const std::string& sql) {
    INFO("sql: ", sql);
    audit::ParseResult parsed = audit::parse_sql(sql);
    REQUIRE(parsed.ok);
    REQUIRE(parsed.statements.size() == 1);
    return std::string(audit::node_kind(*parsed.statements[0].node));
}

std::size_t occurrences(const std::string& text, const std::string& part) {
    std::size_t n = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
        ++n;
    return n;
}

}  // namespace

TEST_CASE("verify SQL of a table with a key: latest revision per key, full join, exact text") {
    auto t = table({"id", "balance", "note"}, {"id"});
    std::string sql = audit::verify_sql(t);
    CHECK(statement_kind(sql) == "SelectStmt");
    CHECK(contains(sql,
                   "FROM \"public\".\"account_rev\" AS r ORDER BY c1, r.rev_created DESC, "
                   "r.ctid DESC"));
    CHECK(contains(sql, "SELECT DISTINCT ON (c1) "));
    CHECK(contains(sql, "FULL JOIN"));
    CHECK(contains(sql, "ON cur.c1 OPERATOR(pg_catalog.=) rev.c1"));
    // Every column of both sides as text in the "C" collation, once per side.
    CHECK(occurrences(sql, "::pg_catalog.text COLLATE pg_catalog.\"C\"") == 6);
    CHECK(contains(sql, "(t.\"balance\")::pg_catalog.text COLLATE pg_catalog.\"C\" AS c2"));
    CHECK(contains(sql, "cur.c3 IS DISTINCT FROM rev.c3 THEN 3 END"));
    for (const char* kind :
         {audit::kChanged, audit::kNoRevision, audit::kDeletedButPresent, audit::kMissingRow}) {
        CHECK(contains(sql, "'" + std::string(kind) + "'"));
    }
}

TEST_CASE("verify SQL joins on every key column, in key order") {
    auto t = table({"note", "region", "id"}, {"id", "region"});
    std::string sql = audit::verify_sql(t);
    CHECK(statement_kind(sql) == "SelectStmt");
    CHECK(contains(sql, "DISTINCT ON (c3, c2)"));
    CHECK(contains(
        sql, "ON cur.c3 OPERATOR(pg_catalog.=) rev.c3 AND cur.c2 OPERATOR(pg_catalog.=) rev.c2"));
    CHECK(contains(sql, "COALESCE(cur.c3, rev.c3), COALESCE(cur.c2, rev.c2)"));
}

TEST_CASE("history SQL quotes mixed-case and odd names") {
    auto t = table({"Id", "we\"ird"}, {"Id"}, "Sales", "Orders");
    for (const std::string& sql : {audit::verify_sql(t), audit::baseline_sql(t)}) {
        CHECK(contains(sql, "\"Sales\".\"Orders\" AS t"));
        CHECK(contains(sql, "\"Sales\".\"Orders_rev\""));
        CHECK(contains(sql, "\"we\"\"ird\""));
        CHECK_FALSE(contains(sql, " Orders"));
    }
    CHECK(statement_kind(audit::verify_sql(t)) == "SelectStmt");
    CHECK(statement_kind(audit::baseline_sql(t)) == "InsertStmt");
    auto no_key = table({"Id", "we\"ird"}, {}, "Sales", "Orders");
    CHECK(statement_kind(audit::verify_sql(no_key)) == "SelectStmt");
    CHECK(statement_kind(audit::baseline_sql(no_key)) == "InsertStmt");
}

TEST_CASE("verify SQL of a table without a key compares whole rows as multisets") {
    auto t = table({"a", "b"}, {});
    std::string sql = audit::verify_sql(t);
    CHECK(statement_kind(sql) == "SelectStmt");
    CHECK_FALSE(contains(sql, "DISTINCT ON"));
    CHECK(contains(sql, "ROW(t.\"a\", t.\"b\")"));
    CHECK(contains(sql, "ROW(r.\"a\", r.\"b\")"));
    CHECK(contains(sql, "WHERE NOT r.rev_isdelete GROUP BY 1"));
    CHECK(contains(sql, "cur.n OPERATOR(pg_catalog.>) COALESCE(rev.n, 0)"));
    CHECK(contains(sql, "'" + std::string(audit::kMoreThanRecorded) + "'"));
}

TEST_CASE("baseline SQL records a non-delete revision now for keys without any") {
    auto t = table({"id", "balance"}, {"id"});
    std::string sql = audit::baseline_sql(t);
    CHECK(statement_kind(sql) == "InsertStmt");
    CHECK(contains(sql,
                   "INSERT INTO \"public\".\"account_rev\" (rev_id, rev_created, "
                   "rev_isdelete, \"id\", \"balance\") SELECT pg_catalog.gen_random_uuid(), "
                   "extract(epoch from pg_catalog.clock_timestamp())::pg_catalog.float8, "
                   "false, t.\"id\", t.\"balance\" FROM \"public\".\"account\" AS t"));
    CHECK(contains(sql,
                   "WHERE NOT EXISTS (SELECT FROM \"public\".\"account_rev\" AS r WHERE "
                   "(r.\"id\")::pg_catalog.text COLLATE pg_catalog.\"C\" "
                   "OPERATOR(pg_catalog.=) (t.\"id\")::pg_catalog.text COLLATE "
                   "pg_catalog.\"C\")"));
}

TEST_CASE("baseline SQL without a key records only copies beyond those recorded") {
    auto t = table({"a", "b"}, {});
    std::string sql = audit::baseline_sql(t);
    CHECK(statement_kind(sql) == "InsertStmt");
    CHECK(contains(sql, "pg_catalog.row_number() OVER (PARTITION BY (ROW(t.\"a\", t.\"b\"))"));
    CHECK(contains(sql, "s.nth OPERATOR(pg_catalog.>) COALESCE(recorded.n, 0)"));
    CHECK(contains(sql, "WHERE NOT r.rev_isdelete"));
}
