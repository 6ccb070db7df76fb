// One statement of each kind StatementAnalyzer::analyzer_of lists (audit/statement_kinds.cpp),
// so that every entry of the table is reached and does what its kind needs; and the shared
// conventions: SQLSTATE names, the "pgrev: " prefix, the "_rev" suffix, ASCII folding.
#include <doctest/doctest.h>

#include <string>

#include "config/text.h"
#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"
#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using test::plan;

namespace {

void check_refused(const audit::RewritePlan& p, std::string_view sqlstate,
                   const std::string& message_part) {
    CHECK_ACTION(p, Refuse);
    CHECK(p.refusal_sqlstate == sqlstate);
    CHECK(protocol::is_pgrev_message(p.refusal_message));
    CHECK_CONTAINS(p.refusal_message, message_part);
    CHECK(p.is_refusal_error(p.refusal_message));
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("statement kinds: each entry of the table analyses its kind") {
        check_refused(plan("MERGE INTO reservation r USING reservation s ON r.id = s.id "
                           "WHEN MATCHED THEN DELETE"),
                      sqlstate::kFeatureNotSupported, "MERGE into audited table");
        check_refused(plan("TRUNCATE reservation"), sqlstate::kFeatureNotSupported, "TRUNCATE");
        check_refused(plan("COPY reservation FROM STDIN"), sqlstate::kFeatureNotSupported,
                      "COPY FROM");
        check_refused(plan("DROP SCHEMA billing CASCADE"), sqlstate::kInsufficientPrivilege,
                      "billing.invoice_rev");
        check_refused(plan("DROP TABLE reservation_rev"), sqlstate::kInsufficientPrivilege,
                      "DROP of revision table public.reservation_rev");
        CHECK(plan("DROP TABLE reservation").changes_catalog);
        CHECK_FALSE(plan("DROP SCHEMA billing").changes_catalog);
        check_refused(plan("DROP OWNED BY someone"), sqlstate::kInsufficientPrivilege,
                      "DROP OWNED");
        check_refused(plan("ALTER TABLE reservation SET SCHEMA billing"),
                      sqlstate::kFeatureNotSupported, "ALTER ... SET SCHEMA of audited table");
        check_refused(plan("ALTER TABLE reservation RENAME TO booking"),
                      sqlstate::kFeatureNotSupported, "RENAME of audited table");
        // A RenameStmt of a column is a change of the table's definition, not of its name.
        auto column = plan("ALTER TABLE reservation RENAME COLUMN party TO guests");
        CHECK_ACTION(column, Forward);
        CHECK(column.changes_catalog);
        CHECK(plan("ALTER TABLE reservation ADD COLUMN note text").changes_catalog);
        CHECK(plan("CREATE TABLE reservation_2026 PARTITION OF reservation "
                   "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")
                  .changes_catalog);
        CHECK(plan("DO $$BEGIN UPDATE reservation SET party = 2; END$$").changes_catalog);
        CHECK(plan("CALL touch_reservation()").changes_catalog);
        check_refused(plan("EXPLAIN ANALYZE DELETE FROM reservation"),
                      sqlstate::kFeatureNotSupported, "EXPLAIN ANALYZE");
        CHECK_ACTION(plan("EXPLAIN DELETE FROM reservation"), Forward);
    }

    TEST_CASE("statement kinds: prepared statements and definitions") {
        using audit::PreparedOp;
        auto prepare = plan("PREPARE p AS DELETE FROM reservation");
        REQUIRE(prepare.statements.size() == 1);
        CHECK(prepare.statements[0].prepared_op == PreparedOp::Prepare);
        CHECK(prepare.statements[0].prepared_tag == audit::TagVerb::Delete);
        CHECK(plan("EXECUTE p").statements.at(0).prepared_op == PreparedOp::Execute);
        CHECK(plan("CREATE TABLE t AS EXECUTE p").statements.at(0).prepared_op ==
              PreparedOp::CreateTableAsExecute);
        CHECK(plan("DEALLOCATE p").statements.at(0).prepared_op == PreparedOp::Deallocate);
        CHECK(plan("DEALLOCATE ALL").statements.at(0).prepared_op == PreparedOp::DeallocateAll);
        CHECK(plan("DISCARD ALL").statements.at(0).prepared_op == PreparedOp::DeallocateAll);
        CHECK(plan("DISCARD PLANS").statements.at(0).prepared_op == PreparedOp::None);
        // Definitions run later, out of pgrev's sight: refused when their code names an audited
        // table (rewriter_bypass_test.cpp), forwarded when it names none.
        check_refused(plan("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS "
                           "'DELETE FROM reservation'"),
                      sqlstate::kFeatureNotSupported, "CREATE FUNCTION public.f is refused");
        CHECK_ACTION(plan("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'SELECT 1'"), Forward);
        CHECK_ACTION(plan("CREATE VIEW v AS SELECT 1 AS one"), Forward);
    }

    TEST_CASE("statement kinds: a kind the table does not list is refused for a hidden write") {
        // CREATE TABLE AS of a query (not EXECUTE) falls back to the check of unlisted kinds.
        check_refused(plan("CREATE TABLE t AS WITH d AS (DELETE FROM reservation RETURNING *) "
                           "SELECT * FROM d"),
                      sqlstate::kFeatureNotSupported, "in a place pgrev cannot rewrite");
        check_refused(plan("DECLARE c CURSOR FOR WITH d AS (DELETE FROM reservation RETURNING *) "
                           "SELECT * FROM d"),
                      sqlstate::kFeatureNotSupported, "in a place pgrev cannot rewrite");
        CHECK_ACTION(plan("CREATE TABLE t AS SELECT * FROM reservation"), Forward);
    }

    TEST_CASE("statement kinds: checks of names, rules and links that every kind passes") {
        check_refused(plan("CREATE RULE r AS ON INSERT TO reservation DO ALSO NOTIFY x"),
                      sqlstate::kFeatureNotSupported, "CREATE RULE on audited table");
        check_refused(plan("CREATE TRIGGER t BEFORE INSERT ON reservation_rev FOR EACH ROW "
                           "EXECUTE FUNCTION f()"),
                      sqlstate::kInsufficientPrivilege, "CREATE TRIGGER on revision table");
        check_refused(plan("CREATE POLICY p ON reservation_rev USING (true)"),
                      sqlstate::kInsufficientPrivilege, "CREATE POLICY on revision table");
        check_refused(plan("ALTER SCHEMA billing RENAME TO accounts"),
                      sqlstate::kFeatureNotSupported, "ALTER SCHEMA billing RENAME TO accounts");
        check_refused(plan("ALTER TABLE other RENAME TO reservation_rev"),
                      sqlstate::kInsufficientPrivilege, "RENAME of other to the name of");
        check_refused(plan("ALTER TABLE public.invoice SET SCHEMA billing"),
                      sqlstate::kFeatureNotSupported,
                      "to the name of audited table billing.invoice");
        check_refused(plan("ALTER TABLE reservation_rev RENAME TO old_history"),
                      sqlstate::kInsufficientPrivilege, "RENAME of revision table");
        check_refused(plan("CREATE VIEW reservation_rev AS SELECT 1"),
                      sqlstate::kInsufficientPrivilege, "CREATE VIEW reservation_rev");
        check_refused(plan("CREATE INDEX reservation_rev ON other (id)"),
                      sqlstate::kInsufficientPrivilege, "CREATE INDEX reservation_rev");
        check_refused(plan("CREATE SEQUENCE billing.invoice_rev"), sqlstate::kInsufficientPrivilege,
                      "CREATE SEQUENCE billing.invoice_rev");
        CHECK_ACTION(plan("ALTER TABLE other RENAME TO booking"), Forward);
        CHECK_ACTION(plan("CREATE VIEW v AS SELECT * FROM other"), Forward);
        // A view of an audited table is written to only through it from now on.
        auto view = plan("CREATE VIEW v AS SELECT * FROM reservation; DELETE FROM v");
        CHECK_ACTION(view, Refuse);
        CHECK_CONTAINS(view.refusal_message, "a view of");
    }

    TEST_CASE("conventions: the pgrev: prefix, made and recognised in one place") {
        CHECK(protocol::pgrev_message("cannot audit x") == "pgrev: cannot audit x");
        CHECK(protocol::is_pgrev_message("pgrev: cannot audit x"));
        CHECK_FALSE(protocol::is_pgrev_message("pgrev:cannot"));
        CHECK_FALSE(protocol::is_pgrev_message("ERROR: pgrev: x"));
        // Every refusal the rewriter makes carries it, whatever path made it.
        for (const char* sql : {"TRUNCATE reservation", "UPDATE reservation_rev SET rev_id = NULL",
                                "DELETE FROM reservation WHERE (", "DROP OWNED BY x"}) {
            CAPTURE(sql);
            audit::RewritePlan p = plan(sql);
            CHECK_ACTION(p, Refuse);
            CHECK(protocol::is_pgrev_message(p.refusal_message));
        }
        // A forwarded or rewritten plan raises no refusal, whatever the message says.
        CHECK_FALSE(plan("DELETE FROM reservation").is_refusal_error("pgrev: x"));
        audit::RewritePlan refused = plan("TRUNCATE reservation");
        CHECK_FALSE(refused.is_refusal_error("division by zero"));
        CHECK(refused.is_refusal_error("pgrev: another statement's refusal"));
    }

    TEST_CASE("conventions: refusal_plan is the plan of a text refused as a whole") {
        audit::RewritePlan p =
            audit::refusal_plan(sqlstate::kInternalError, protocol::pgrev_message("no"));
        CHECK_ACTION(p, Refuse);
        CHECK(p.refusal_sqlstate == "XX000");
        CHECK(p.refusal_message == "pgrev: no");
        CHECK(p.sql == audit::refusal_statement("XX000", "pgrev: no"));
        CHECK(p.statements.size() == 1);
        CHECK_FALSE(p.audits);
    }

    TEST_CASE("conventions: revision table names and ASCII folding") {
        CHECK(config::rev_name("reservation") == "reservation_rev");
        CHECK(config::is_rev_name("reservation_rev", "reservation"));
        CHECK_FALSE(config::is_rev_name("reservation", "reservation"));
        CHECK_FALSE(config::is_rev_name("reservation_revs", "reservation"));
        CHECK_FALSE(config::is_rev_name("booking_rev", "reservation"));
        CHECK_FALSE(config::is_rev_name("_rev", "reservation"));
        CHECK(audit::AuditedTableInfo{"public", "Mixed", {}, {}, {}, {}, {}}.rev_name() ==
              "Mixed_rev");
        CHECK(config::lower_ascii("SELECT Ab_9") == "select ab_9");
        // Bytes of multibyte characters (UTF-8 "É", LATIN1 0xC9) are never folded.
        CHECK(config::lower_ascii("\xC3\x89T\xC9") == "\xC3\x89t\xC9");
        CHECK(config::upper_ascii('q') == 'Q');
        CHECK(config::upper_ascii('\xE9') == '\xE9');
        static_assert(config::lower_ascii('Z') == 'z' && config::lower_ascii('[') == '[');
    }
}
