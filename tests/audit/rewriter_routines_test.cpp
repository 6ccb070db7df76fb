// Statements that make the server run code reaching an audited table without naming it
// (audit/routine_statements.cpp): calls of flagged routines anywhere in a statement, writes to
// tables with flagged triggers or rules, new triggers running flagged functions, TRUNCATE ...
// CASCADE through an audited table's foreign key; and how routine sources are read
// (audit/code_names.cpp).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/code_names.h"
#include "audit/rewriter.h"
#include "tests/audit/refusal_checks.h"
#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;

namespace {

audit::RewritePlan plan(const std::string& sql, const config::Audit& policy = {}) {
    static const audit::CatalogSnapshot catalog = test::reservation_catalog_with_code();
    return audit::plan_rewrite(sql, catalog, policy, true);
}

void check_refused(const std::string& sql, const std::string& message_part,
                   const config::Audit& policy = {}) {
    CAPTURE(sql);
    test::check_refusal(plan(sql, policy), "0A000", message_part);
}

void check_not_refused(const std::string& sql, const config::Audit& policy = {}) {
    CAPTURE(sql);
    test::check_no_refusal(plan(sql, policy));
}

using test::allowing;

// As the loader reads a PL/pgSQL or SQL routine's source.
std::size_t named(std::string_view source, const std::vector<std::string>& names) {
    return audit::first_name_in_code(source, false, names);
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("routines: a call of a flagged routine is refused wherever it is") {
        for (const char* sql : {
                 "SELECT archive()",
                 "SELECT public.archive(1, 'x')",
                 "SELECT 1 WHERE ARCHIVE() > 0",
                 "SELECT * FROM archive()",
                 "VALUES (1), (archive())",
                 "CALL archive()",
                 "WITH x AS (SELECT archive()) SELECT * FROM x",
                 "SELECT (SELECT max(archive()) FROM t)",
                 "INSERT INTO t VALUES (archive())",
                 "UPDATE reservation SET name = archive()::text",
                 "EXPLAIN ANALYZE SELECT archive()",
                 "CREATE TABLE t2 (x int DEFAULT archive())",
                 "PREPARE p AS SELECT archive()",
                 "SELECT r.archive FROM reservation r",  // attribute notation: archive(r)
                 "CREATE FUNCTION f(x int DEFAULT archive()) RETURNS int LANGUAGE sql AS 'SELECT "
                 "1'",
             }) {
            check_refused(sql, "public.archive");
        }
        check_refused("SELECT archive()", "names audited table public.reservation");
        check_refused("SELECT archive()", "audit.allow: [routine_calls]");
        check_refused("SELECT ops.purge()", "it calls public.archive");
        check_refused("SELECT purge()", "ops.purge");
    }

    TEST_CASE("routines: other names, other schemas, trusted routines and the switch run") {
        check_not_refused("SELECT archived()");
        check_not_refused("SELECT other.archive()");  // qualified: that schema's only
        check_not_refused("SELECT 'archive()' AS archive");
        // A routine body does not run when it is defined: calls in it count when it is called.
        check_not_refused(
            "CREATE FUNCTION w() RETURNS void LANGUAGE sql BEGIN ATOMIC SELECT archive(); END");
        config::Audit trusted;
        trusted.trusted_routines.push_back({"public", "archive"});
        check_not_refused("SELECT archive()", trusted);
        check_refused("SELECT ops.purge()", "ops.purge", trusted);  // its caller is not trusted
        check_not_refused("SELECT archive(), ops.purge()",
                          allowing(&config::Audit::allow_routine_calls));
    }

    TEST_CASE("routines: writes to tables whose triggers or rules reach an audited table") {
        for (const char* sql : {"INSERT INTO log VALUES (1)", "UPDATE public.log SET x = 1",
                                "DELETE FROM log", "TRUNCATE log", "COPY log FROM STDIN",
                                "MERGE INTO log USING t ON true WHEN MATCHED THEN DELETE",
                                "WITH d AS (DELETE FROM log RETURNING 1) SELECT * FROM d"}) {
            check_refused(sql, "trigger log_trg runs public.archive");
        }
        check_refused("INSERT INTO log VALUES (1)", "audit.allow: [triggers]");
        check_refused("INSERT INTO ruled VALUES (1)", "rule log_rule depends on audited table");
        check_refused("UPDATE ruled SET x = 1", "audit.allow: [rules]");
        check_not_refused("SELECT * FROM log");
        check_not_refused("INSERT INTO other.log VALUES (1)");
        check_not_refused("COPY log TO STDOUT");
        check_not_refused("INSERT INTO log VALUES (1)", allowing(&config::Audit::allow_triggers));
        config::Audit trusted;
        trusted.trusted_routines.push_back({"public", "archive"});
        check_not_refused("INSERT INTO log VALUES (1)", trusted);
        check_not_refused("INSERT INTO ruled VALUES (1)", allowing(&config::Audit::allow_rules));
    }

    TEST_CASE("routines: relations whose definition calls a flagged routine") {
        check_refused("SELECT * FROM archive_view", "use of public.archive_view");
        check_refused("SELECT 1 WHERE EXISTS (SELECT FROM public.archive_view)",
                      "its view calls public.archive");
        check_refused("INSERT INTO defaulted (id) VALUES (1)",
                      "INSERT into public.defaulted is refused: its default of column x calls");
        check_refused("UPDATE defaulted SET x = DEFAULT", "audit.allow: [routine_calls]");
        check_not_refused("SELECT * FROM defaulted");  // reading runs no default
        check_not_refused("TRUNCATE defaulted");
        check_not_refused("SELECT * FROM archive_view",
                          allowing(&config::Audit::allow_routine_calls));
        config::Audit trusted;
        trusted.trusted_routines.push_back({"public", "archive"});
        check_not_refused("INSERT INTO defaulted (id) VALUES (1)", trusted);
    }

    TEST_CASE("routines: CREATE TRIGGER running a flagged function is refused") {
        check_refused(
            "CREATE TRIGGER t AFTER INSERT ON other FOR EACH ROW EXECUTE FUNCTION "
            "archive()",
            "public.archive, the function it runs");
        check_refused(
            "CREATE TRIGGER t BEFORE UPDATE ON reservation FOR EACH ROW EXECUTE "
            "PROCEDURE ops.purge()",
            "audit.allow: [triggers]");
        check_refused("CREATE EVENT TRIGGER e ON ddl_command_end EXECUTE FUNCTION archive()",
                      "public.archive");
        check_not_refused(
            "CREATE TRIGGER t AFTER INSERT ON other FOR EACH ROW EXECUTE FUNCTION "
            "archive()",
            allowing(&config::Audit::allow_triggers));
        check_not_refused(
            "CREATE TRIGGER t AFTER INSERT ON other FOR EACH ROW EXECUTE FUNCTION note()");
    }

    TEST_CASE("routines: TRUNCATE ... CASCADE of a table an audited table references") {
        check_refused("TRUNCATE room CASCADE", "also truncates audited table public.reservation");
        check_refused("TRUNCATE other, public.room CASCADE", "audit.allow: [truncate]");
        check_not_refused("TRUNCATE room");  // the server refuses it itself
        check_not_refused("TRUNCATE other CASCADE");
        check_not_refused("TRUNCATE room CASCADE", allowing(&config::Audit::allow_truncate));
    }

    TEST_CASE("routines: DDL of routines, triggers and rules has the catalog read again") {
        for (const char* sql : {
                 "CREATE FUNCTION archive() RETURNS void LANGUAGE sql AS 'SELECT 1'",
                 "CREATE OR REPLACE PROCEDURE archive() LANGUAGE sql AS 'SELECT 1'",
                 "ALTER FUNCTION archive() RENAME TO archived",
                 "ALTER FUNCTION archive() SET SCHEMA ops",
                 "ALTER FUNCTION archive() SECURITY DEFINER",
                 "DROP FUNCTION archive()",
                 "DROP PROCEDURE archive()",
                 "DROP ROUTINE archive",
                 "DROP TRIGGER log_trg ON log",
                 "DROP RULE log_rule ON ruled",
                 "ALTER TRIGGER log_trg ON log RENAME TO t2",
                 "ALTER TABLE log ENABLE TRIGGER log_trg",
                 "ALTER TABLE log DISABLE TRIGGER ALL",
                 "ALTER TABLE ruled ENABLE ALWAYS RULE log_rule",
             }) {
            CAPTURE(std::string(sql));
            CHECK(plan(sql).changes_catalog);
        }
        CHECK_FALSE(plan("DROP VIEW log_view").changes_catalog);
        CHECK_FALSE(plan("ALTER TABLE log ADD COLUMN y int").changes_catalog);
    }

    TEST_CASE("routines: what names a table in a routine's source") {
        const std::vector<std::string> names = {"reservation", "reservation_rev", "Odd"};
        CHECK(named("UPDATE reservation SET x = 1", names) == 0);
        CHECK(named("BEGIN UPDATE public.RESERVATION SET x = 1; END", names) == 0);
        CHECK(named("DELETE FROM \"reservation\"", names) == 0);
        CHECK(named("DELETE FROM U&\"r\\0065servation\"", names) == 0);
        CHECK(named("DELETE FROM U&\"r!0065servation\" UESCAPE '!'", names) == 0);
        CHECK(named("INSERT INTO reservation_rev VALUES (1)", names) == 1);
        CHECK(named("UPDATE \"Odd\" SET x = 1", names) == 2);
        // Dynamic SQL: a word in a string counts, in any case.
        CHECK(named("EXECUTE 'UPDATE Reservation SET x = 1'", names) == 0);
        CHECK(named("EXECUTE $q$DELETE FROM reservation$q$", names) == 0);
        // Words in comments count, as in a DO block's body (code_names.h).
        CHECK(named("SELECT 1 -- updates reservation\n", names) == 0);
        CHECK(named("SELECT /* reservation /* nested */ reservation */ 1", names) == 0);
        // Not the name: another word, another case of a quoted name.
        CHECK(named("UPDATE reservations SET x = 1", names) == names.size());
        CHECK(named("SELECT reservation_count FROM t", names) == names.size());
        CHECK(named("UPDATE \"Reservation\" SET x = 1", names) == names.size());
        CHECK(named("UPDATE odd SET x = 1", names) == names.size());  // folds to odd, not Odd
        CHECK(named("SELECT 1", names) == names.size());
        // What the lexer cannot finish reading counts as code.
        CHECK(named("SELECT 1; EXECUTE 'unterminated reservation", names) == 0);
        CHECK(named("SELECT 1 /* unterminated reservation", names) == 0);
    }
}
