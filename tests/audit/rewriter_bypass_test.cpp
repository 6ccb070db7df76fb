// Ways around the rewrite that the parse tree shows (audit/code_statements.cpp,
// audit/row_ddl_statements.cpp): DO blocks, routines and rules whose code names or writes an
// audited table, DDL that changes its rows without INSERT/UPDATE/DELETE, and rows a client
// writes into a revision table. Each is refused, and its audit.allow switch lets it through.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "audit/catalog.h"
#include "audit/code_names.h"
#include "audit/name_filter.h"
#include "audit/rewriter.h"
#include "tests/audit/refusal_checks.h"
#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;

namespace {

// reservation has the partition reservation_2026 (itself partitioned) and inherits from base;
// its history is a partition of the partitioned rev_parent.
audit::CatalogSnapshot bypass_catalog() {
    audit::CatalogSnapshot plain = test::reservation_catalog();
    audit::CatalogLinks links;
    links.children.push_back({"public", "reservation_2026", "public.reservation"});
    links.children.push_back({"public", "slot_view", "public.reservation", true});
    links.children.push_back({"parts", "reservation_2025", "public.reservation"});
    links.ancestors.push_back({"public", "base", "public.reservation", false, false});
    links.ancestors.push_back({"public", "rev_parent", "public.reservation_rev", true, true});
    links.ancestors.push_back({"public", "rev_base", "public.reservation_rev", true, false});
    return audit::CatalogSnapshot(plain.configured(), plain.tables(), 4, std::move(links));
}

audit::RewritePlan plan(const std::string& sql, const config::Audit& policy = {}) {
    static const audit::CatalogSnapshot catalog = bypass_catalog();
    return audit::plan_rewrite(sql, catalog, policy, true);
}

void check_refused(const std::string& sql, const std::string& sqlstate,
                   const std::string& message_part, const config::Audit& policy = {}) {
    CAPTURE(sql);
    test::check_refusal(plan(sql, policy), sqlstate, message_part);
}

void check_not_refused(const std::string& sql, const config::Audit& policy = {}) {
    CAPTURE(sql);
    test::check_no_refusal(plan(sql, policy));
}

using test::allowing;

// The names scan_code_names reports, "schema.name" or "name", all of them.
std::vector<std::string> names_in(const std::string& code, bool quoted_are_code = false) {
    std::vector<std::string> names;
    audit::scan_code_names(code, quoted_are_code, [&](std::string_view s, std::string_view n) {
        names.push_back(s.empty() ? std::string(n) : std::string(s) + "." + std::string(n));
        return false;
    });
    return names;
}

bool has(const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("code names: identifiers read as the server reads them") {
        CHECK(names_in("UPDATE Reservation SET x = 1") ==
              std::vector<std::string>{"update", "reservation", "set", "x"});
        CHECK(has(names_in("UPDATE public.reservation SET x = 1"), "public.reservation"));
        CHECK(has(names_in("UPDATE \"public\" . \"reservation\""), "public.reservation"));
        CHECK(has(names_in("UPDATE \"Reservation\""), "Reservation"));
        CHECK_FALSE(has(names_in("UPDATE \"Reservation\""), "reservation"));
        CHECK(has(names_in(R"(UPDATE U&"\0072eservation")"), "reservation"));
        CHECK(has(names_in(R"(UPDATE U&"!0072eservation" UESCAPE '!')"), "reservation"));
        CHECK(has(names_in(R"(UPDATE U&"\+000072eservation")"), "reservation"));
        // Strings are read as code: the body may EXECUTE them.
        CHECK(has(names_in("EXECUTE 'UPDATE ' || 'reservation SET x = 1'"), "reservation"));
        CHECK(has(names_in("EXECUTE $q$DELETE FROM \"reservation\"$q$"), "reservation"));
        CHECK(has(names_in(R"(EXECUTE E'UPDATE \162eservation')"), "reservation"));
        CHECK(has(names_in(R"(EXECUTE E'UPDATE \x72eservation')"), "reservation"));
        CHECK(has(names_in(R"(EXECUTE U&'UPDATE \0072eservation')"), "reservation"));
        CHECK(has(names_in("EXECUTE 'UPDATE reser'\n'vation'"), "reservation"));
        CHECK(has(names_in("EXECUTE 'UPDATE ''reservation'''"), "reservation"));
        // With standard_conforming_strings off, '\x72' is an escape too.
        CHECK(has(names_in(R"(EXECUTE 'UPDATE \x72eservation')"), "reservation"));
        CHECK(has(names_in("EXECUTE format('UPDATE %I', 'reservation')"), "reservation"));
        // Comments count: with the setting off, '\' -- ' may end before the "comment".
        CHECK(has(names_in("SELECT 1 -- reservation"), "reservation"));
        CHECK(has(names_in("SELECT 1 /* \"reservation\" */"), "reservation"));
        // In a language other than SQL, "..." may be a string of code.
        CHECK_FALSE(has(names_in("plpy.execute(\"UPDATE reservation\")"), "reservation"));
        CHECK(has(names_in("plpy.execute(\"UPDATE reservation\")", true), "reservation"));
        // Names longer than 63 bytes are cut as PostgreSQL cuts them.
        CHECK(has(names_in(std::string(70, 'a')), std::string(63, 'a')));
        // Text pgrev cannot decode is doubtful.
        auto never = [](std::string_view, std::string_view) { return false; };
        CHECK(audit::scan_code_names(R"(UPDATE U&"\zz")", false, never) ==
              audit::CodeScan::Doubtful);
        CHECK(audit::scan_code_names("SELECT 1 -- U&\"x\"", false, never) ==
              audit::CodeScan::Doubtful);
        CHECK(audit::scan_code_names("SELECT 1", false, never) == audit::CodeScan::None);
    }

    TEST_CASE("bypass: a DO block whose code names an audited or revision table") {
        for (const char* sql :
             {"DO $$ BEGIN UPDATE reservation SET party = 0; END $$",
              "DO $$BEGIN EXECUTE 'UPDATE ' || 'reservation SET party = 0'; END$$",
              "do language plpgsql $x$begin delete from PUBLIC.RESERVATION; end$x$",
              R"(DO $$BEGIN UPDATE U&"\0072eservation" SET party = 0; END$$)",
              R"(DO E'BEGIN UPDATE \162eservation SET party = 0; END')",
              "DO 'BEGIN UPDATE reser'\n'vation SET party = 0; END'",
              "DO $$BEGIN PERFORM count(*) FROM reservation; END$$",
              "DO $$BEGIN UPDATE reservation_2026 SET party = 0; END$$",
              "DO LANGUAGE plpython3u $$plpy.execute(\"DELETE FROM reservation\")$$"}) {
            check_refused(sql, "0A000", "DO block is refused: its code names ");
            check_not_refused(sql, allowing(&config::Audit::allow_do_blocks));
        }
        check_refused("DO $$BEGIN UPDATE reservation SET party = 0; END$$", "0A000",
                      "audited table public.reservation, and its writes would have no "
                      "revisions (write through pgrev's statements, or allow it with "
                      "audit.allow: [do_blocks])");
        check_refused("DO $$BEGIN INSERT INTO reservation_rev (rev_id) VALUES (NULL); END$$",
                      "0A000", "revision table public.reservation_rev");
        check_refused("DO $$BEGIN DELETE FROM billing.invoice; END$$", "0A000", "billing.invoice");
        // Not an audited table: a longer name, another schema's, another spelling.
        for (const char* sql : {"DO $$BEGIN UPDATE reservations SET party = 0; END$$",
                                "DO $$BEGIN UPDATE other.reservation SET party = 0; END$$",
                                "DO $$BEGIN UPDATE \"Reservation\" SET party = 0; END$$",
                                "DO $$BEGIN RAISE NOTICE 'my_reservation_x'; END$$",
                                "DO $$BEGIN RAISE NOTICE 'hello'; END$$"}) {
            check_not_refused(sql);
            CHECK(plan(sql).changes_catalog);
        }
    }

    TEST_CASE("bypass: the prefilter lets escaped and continued strings through to be read") {
        audit::NameFilter f({"reservation"});
        CHECK(f.may_match(R"(DO E'BEGIN UPDATE \162eservation SET party = 0; END')"));
        CHECK(f.may_match("DO 'BEGIN UPDATE reser'\n  'vation SET party = 0; END'"));
        CHECK(f.may_match("DO 'BEGIN UPDATE reser' -- c\n'vation SET party = 0; END'"));
        CHECK_FALSE(f.may_match("SELECT 'one' || E'two'"));
        CHECK_FALSE(f.may_match(R"(SELECT 'one\two')"));  // no E'' string
        CHECK_FALSE(f.may_match("SELECT 'a',\n 'b'"));
        audit::NameFilter children({"x"}, false);
        CHECK_FALSE(children.may_match(R"(DO E'\162')"));
    }

    TEST_CASE("bypass: CREATE FUNCTION or PROCEDURE whose body names an audited table") {
        for (
            const char* sql :
            {"CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM reservation'",
             "CREATE OR REPLACE FUNCTION s.f() RETURNS void LANGUAGE plpgsql AS "
             "$$BEGIN UPDATE reservation SET party = 0; END$$",
             "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$BEGIN EXECUTE 'TRUNCATE ' || "
             "'reservation'; END$$",
             R"(CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$UPDATE "reservation" SET party = 0$$)",
             R"(CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$UPDATE U&"\0072eservation" SET party = 0$$)",
             "CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC UPDATE reservation SET "
             "party = 0; END",
             "CREATE FUNCTION f() RETURNS bigint RETURN (SELECT count(*) FROM public.reservation)",
             "CREATE FUNCTION f() RETURNS xml LANGUAGE sql BEGIN ATOMIC SELECT query_to_xml("
             "'UPDATE reservation SET party = 0 RETURNING 1', true, false, ''); END",
             "CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO reservation_rev (rev_id) "
             "VALUES (NULL); END"}) {
            check_refused(sql, "0A000", "is refused: its code names ");
            check_not_refused(sql, allowing(&config::Audit::allow_routine_definitions));
            CHECK(plan(sql, allowing(&config::Audit::allow_routine_definitions)).changes_catalog);
        }
        check_refused("CREATE PROCEDURE billing.p() LANGUAGE sql AS 'DELETE FROM billing.invoice'",
                      "0A000",
                      "CREATE PROCEDURE billing.p is refused: its code names audited table "
                      "billing.invoice");
        check_refused("CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM reservation'",
                      "0A000", "audit.trusted_routines");
        // A trusted routine, by its schema (public when unqualified) and name.
        config::Audit trusted;
        trusted.trusted_routines.push_back({"public", "f"});
        trusted.trusted_routines.push_back({"s", "g"});
        check_not_refused(
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM reservation'", trusted);
        check_not_refused(
            "CREATE FUNCTION public.f() RETURNS void LANGUAGE sql AS "
            "'DELETE FROM reservation'",
            trusted);
        check_not_refused(
            "CREATE FUNCTION s.g() RETURNS void LANGUAGE sql AS "
            "'DELETE FROM reservation'",
            trusted);
        check_refused(
            "CREATE FUNCTION s.f() RETURNS void LANGUAGE sql AS 'DELETE FROM reservation'", "0A000",
            "CREATE FUNCTION s.f", trusted);
        check_refused("CREATE FUNCTION g() RETURNS void LANGUAGE sql AS 'DELETE FROM reservation'",
                      "0A000", "CREATE FUNCTION public.g", trusted);
        // A body that names none: allowed, and the catalog is read again.
        for (const char* sql :
             {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1 FROM reservations'",
              "CREATE FUNCTION f(r reservation) RETURNS int LANGUAGE sql AS 'SELECT $1.party'"}) {
            check_not_refused(sql);
            CHECK(plan(sql).changes_catalog);
        }
    }

    TEST_CASE("bypass: statements that change routines, triggers and rules reread the catalog") {
        for (const char* sql :
             {"DROP FUNCTION reservation_fn()", "DROP PROCEDURE reservation_p",
              "DROP ROUTINE reservation_r", "DROP TRIGGER t ON reservation",
              "DROP RULE r ON reservation_x", "ALTER FUNCTION reservation_fn() STABLE",
              "ALTER FUNCTION reservation_fn() RENAME TO g",
              "ALTER PROCEDURE reservation_p() SET SCHEMA s",
              "CREATE TRIGGER t AFTER INSERT ON reservation FOR EACH ROW EXECUTE FUNCTION f()"}) {
            CAPTURE(std::string(sql));
            CHECK(plan(sql).changes_catalog);
        }
    }

    TEST_CASE("bypass: CREATE RULE on any table whose action writes an audited table") {
        for (const char* sql :
             {"CREATE RULE r AS ON INSERT TO other DO ALSO UPDATE reservation SET party = 0",
              "CREATE RULE r AS ON DELETE TO other DO INSTEAD DELETE FROM public.reservation",
              "CREATE RULE r AS ON UPDATE TO other DO (NOTIFY x; INSERT INTO billing.invoice "
              "VALUES (1, 2, 3))",
              "CREATE RULE r AS ON INSERT TO other DO ALSO UPDATE reservation_2026 SET party = 0",
              "CREATE RULE r AS ON INSERT TO other DO ALSO INSERT INTO reservation_rev (rev_id) "
              "VALUES (NULL)"}) {
            check_refused(sql, "0A000", "CREATE RULE r on other is refused: its action writes ");
            check_not_refused(sql, allowing(&config::Audit::allow_rules));
        }
        check_refused(
            "CREATE RULE r AS ON INSERT TO other DO ALSO UPDATE reservation SET party = 0", "0A000",
            "audited table public.reservation");
        // A rule that only reads it, or writes elsewhere: allowed, and the catalog is read again.
        for (const char* sql :
             {"CREATE RULE r AS ON INSERT TO other DO ALSO SELECT count(*) FROM reservation",
              "CREATE RULE r AS ON INSERT TO other DO ALSO UPDATE reservations SET party = 0"}) {
            check_not_refused(sql);
            CHECK(plan(sql).changes_catalog);
        }
        // On the audited table itself: refused as before, whatever the switch.
        check_refused("CREATE RULE r AS ON UPDATE TO reservation DO INSTEAD NOTHING", "0A000",
                      "CREATE RULE on audited table public.reservation",
                      allowing(&config::Audit::allow_rules));
    }

    TEST_CASE("bypass: ALTER COLUMN ... TYPE ... USING rewrites the rows") {
        for (const char* sql :
             {"ALTER TABLE reservation ALTER COLUMN party TYPE bigint USING party * 100",
              "ALTER TABLE public.reservation ALTER party SET DATA TYPE text USING 'x'",
              "ALTER TABLE reservation ADD COLUMN n int, ALTER COLUMN party TYPE int USING 0",
              "ALTER TABLE reservation_2026 ALTER COLUMN party TYPE int USING party + 1",
              "ALTER TABLE base ALTER COLUMN party TYPE int USING party + 1"}) {
            check_refused(sql, "0A000", "ALTER COLUMN party TYPE ... USING of ");
            check_not_refused(sql, allowing(&config::Audit::allow_column_rewrites));
        }
        check_refused("ALTER TABLE reservation ALTER COLUMN party TYPE int USING party * 100",
                      "0A000",
                      "of audited table public.reservation is refused: it rewrites the rows "
                      "without revisions");
        // Without USING the history is converted with the same cast.
        check_not_refused("ALTER TABLE reservation ALTER COLUMN party TYPE bigint");
        check_not_refused("ALTER TABLE other ALTER COLUMN party TYPE bigint USING party * 100");
    }

    TEST_CASE("bypass: rows that join or leave an audited table by DDL") {
        const config::Audit allow = allowing(&config::Audit::allow_partition_changes);
        struct Case {
            const char* sql;
            const char* message;
        };
        for (const Case& c : std::vector<Case>{
                 {"ALTER TABLE reservation ATTACH PARTITION filled FOR VALUES IN (1)",
                  "ATTACH PARTITION filled of reservation is refused: the rows of filled would "
                  "join audited table public.reservation without revisions"},
                 {"ALTER TABLE reservation_2026 ATTACH PARTITION filled DEFAULT",
                  "the rows of filled would join audited table public.reservation"},
                 {"ALTER TABLE filled INHERIT reservation",
                  "ALTER TABLE filled INHERIT reservation is refused: the rows of filled would "
                  "join audited table public.reservation"},
                 {"ALTER TABLE filled INHERIT public.reservation_2026",
                  "the rows of filled would join audited table public.reservation"},
                 {"ALTER TABLE reservation DETACH PARTITION reservation_2026",
                  "DETACH PARTITION reservation_2026 of reservation is refused: the rows of "
                  "reservation_2026 would leave audited table public.reservation"},
                 {"ALTER TABLE reservation DETACH PARTITION reservation_2026 CONCURRENTLY",
                  "would leave audited table public.reservation"},
                 {"ALTER TABLE reservation DETACH PARTITION reservation_2026 FINALIZE",
                  "would leave audited table public.reservation"},
                 {"ALTER TABLE reservation_2026 NO INHERIT reservation",
                  "ALTER TABLE reservation_2026 NO INHERIT reservation is refused: the rows of "
                  "reservation_2026 would leave audited table public.reservation"},
                 {"DROP TABLE reservation_2026",
                  "DROP TABLE reservation_2026 is refused: the rows of reservation_2026 would "
                  "leave audited table public.reservation"},
                 {"DROP TABLE IF EXISTS other, public.reservation_2026 CASCADE",
                  "the rows of public.reservation_2026 would leave"},
                 {"DROP FOREIGN TABLE reservation_2026",
                  "the rows of reservation_2026 would leave audited table public.reservation"},
                 {"DROP SCHEMA parts CASCADE",
                  "DROP SCHEMA parts CASCADE is refused: the rows of parts.reservation_2025 "
                  "would leave audited table public.reservation"},
             }) {
            check_refused(c.sql, "0A000", c.message);
            check_refused(c.sql, "0A000", "(allow it with audit.allow: [partition_changes])");
            check_not_refused(c.sql, allow);
        }
        // An empty new partition or child, the audited table leaving its own parent, the
        // audited table dropped, a view of it dropped: allowed.
        for (const char* sql : {"CREATE TABLE r27 PARTITION OF reservation DEFAULT",
                                "CREATE TABLE r28 () INHERITS (reservation)",
                                "ALTER TABLE reservation NO INHERIT base",
                                "ALTER TABLE base ATTACH PARTITION other DEFAULT",
                                "DROP TABLE reservation", "DROP VIEW slot_view", "DROP TABLE other",
                                "DROP SCHEMA other CASCADE", "DROP SCHEMA public"}) {
            check_not_refused(sql);
        }
        // Allowed, an attached partition is known by name at once.
        audit::RewritePlan p =
            plan("ALTER TABLE reservation ATTACH PARTITION filled DEFAULT", allow);
        REQUIRE(p.new_children.size() == 1);
        CHECK(p.new_children[0].name == "filled");
        CHECK(plan("DROP TABLE reservation_2026", allow).changes_catalog);
    }

    TEST_CASE("bypass: rows a client writes into a revision table are forged history") {
        const config::Audit allow = allowing(&config::Audit::allow_rev_backfill);
        for (const char* sql :
             {"INSERT INTO reservation_rev (rev_id, rev_created, rev_isdelete, id) "
              "VALUES (gen_random_uuid(), 0, false, 1)",
              "INSERT INTO public.reservation_rev SELECT * FROM reservation_rev",
              "INSERT INTO reservation_rev (rev_id) VALUES (gen_random_uuid()) "
              "ON CONFLICT DO NOTHING",
              "WITH x AS (INSERT INTO reservation_rev (rev_id) VALUES (NULL) RETURNING 1) "
              "SELECT * FROM x",
              "COPY reservation_rev FROM STDIN", "COPY billing.invoice_rev (no) FROM '/tmp/x'",
              "INSERT INTO rev_parent (rev_id) VALUES (gen_random_uuid())",
              "COPY rev_parent FROM STDIN",
              "PREPARE p AS INSERT INTO reservation_rev (rev_id) VALUES ($1)"}) {
            check_refused(sql, "42501", "into ");
            check_refused(sql, "42501", "allow backfills with audit.allow: [rev_backfill]");
            check_not_refused(sql, allow);
        }
        check_refused("INSERT INTO reservation_rev (rev_id) VALUES (NULL)", "42501",
                      "INSERT into revision table public.reservation_rev is refused: rows a "
                      "client writes there would be revisions that never happened");
        check_refused("COPY rev_parent FROM STDIN", "42501",
                      "COPY FROM into public.rev_parent (a parent of revision table "
                      "public.reservation_rev)");
        // Where the INSERT hides, it is refused too, as the privilege it is (42501), like
        // any write of history; a hidden write of an audited table stays 0A000.
        for (const char* sql :
             {"EXPLAIN ANALYZE INSERT INTO reservation_rev (rev_id) VALUES (NULL)",
              "COPY (INSERT INTO reservation_rev (rev_id) VALUES (NULL) RETURNING 1) TO STDOUT",
              "EXPLAIN ANALYZE DELETE FROM reservation_rev",
              "CREATE TABLE bp_copy AS WITH x AS (UPDATE reservation_rev SET party = 1 "
              "RETURNING 1) SELECT * FROM x"}) {
            check_refused(sql, "42501", "revision table public.reservation_rev");
        }
        check_refused("EXPLAIN ANALYZE INSERT INTO reservation_rev (rev_id) VALUES (NULL)", "42501",
                      "is refused: revision history is written by pgrev alone");
        check_refused("EXPLAIN ANALYZE DELETE FROM reservation", "0A000",
                      "audited table public.reservation");
        check_not_refused("EXPLAIN ANALYZE INSERT INTO reservation_rev (rev_id) VALUES (NULL)",
                          allow);
        // An inheritance parent keeps the rows inserted into it.
        check_not_refused("INSERT INTO rev_base (rev_id) VALUES (gen_random_uuid())");
        check_not_refused("COPY reservation_rev TO STDOUT");
        check_not_refused("SELECT * FROM reservation_rev");
        // ON CONFLICT DO UPDATE changes history: refused even with the switch.
        check_refused(
            "INSERT INTO reservation_rev (rev_id) VALUES (NULL) "
            "ON CONFLICT (rev_id) DO UPDATE SET party = 99",
            "42501", "INSERT ... ON CONFLICT DO UPDATE of revision table", allow);
        // pgrev's own revision inserts are what it sends, never what it reads.
        audit::RewritePlan audited = plan("UPDATE reservation SET party = 1 WHERE id = 1");
        CHECK_ACTION(audited, Rewrite);
        CHECK_CONTAINS(audited.sql, "INSERT INTO \"public\".\"reservation_rev\"");
    }
}
