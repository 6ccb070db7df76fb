// Statements that reach audited or revision tables without naming them, or change what a
// configured name means (audit/link_statements.cpp): writes through ancestors, DDL that links
// tables, renames, rules and triggers on histories, DROP ... CASCADE of what a history needs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/catalog.h"
#include "audit/rewriter.h"
#include "tests/audit/refusal_checks.h"
#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;

namespace {

// reservation inherits from base (and is a partition of the partitioned p); its history is a
// partition of rev_parent and has a column of type mood, in schema moods.
audit::CatalogSnapshot linked_catalog() {
    audit::CatalogSnapshot plain = test::reservation_catalog();
    audit::CatalogLinks links;
    links.children.push_back({"public", "reservation_2026", "public.reservation"});
    links.children.push_back({"public", "history_view", "public.reservation_rev", true});
    links.ancestors.push_back({"public", "base", "public.reservation", false, false});
    links.ancestors.push_back({"public", "p", "public.reservation", false, true});
    links.ancestors.push_back({"public", "rev_parent", "public.reservation_rev", true, true});
    links.ancestors.push_back({"public", "rev_base", "public.reservation_rev", true, false});
    links.ancestors.push_back({"hist", "archive", "public.reservation_rev", true, true});
    links.rev_dependencies.push_back({"type", "moods", "mood", "public.reservation_rev"});
    links.rev_dependencies.push_back({"schema", "", "moods", "public.reservation_rev"});
    links.rev_dependencies.push_back({"extension", "", "citext", "public.reservation_rev"});
    return audit::CatalogSnapshot(plain.configured(), plain.tables(), 3, std::move(links));
}

audit::RewritePlan plan(const std::string& sql, const config::Audit& policy = {}) {
    static const audit::CatalogSnapshot catalog = linked_catalog();
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

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("links: writes through an ancestor that reach the audited table are refused") {
        for (const char* sql :
             {"UPDATE base SET party = 1", "DELETE FROM public.base", "UPDATE ONLY p SET party = 1",
              "INSERT INTO p (id) VALUES (1)", "TRUNCATE base", "TRUNCATE p",
              "MERGE INTO base b USING other o ON o.id = b.id WHEN MATCHED THEN DELETE",
              "COPY p FROM STDIN", "WITH d AS (DELETE FROM base RETURNING 1) SELECT 1",
              "SELECT * FROM (WITH d AS (UPDATE p SET party = 1 RETURNING 1) SELECT 1) s",
              "EXPLAIN ANALYZE DELETE FROM base",
              "COPY (DELETE FROM base RETURNING *) TO STDOUT"}) {
            check_refused(sql, "0A000", "public.reservation");
        }
        check_refused("DELETE FROM base", "0A000",
                      "DELETE of public.base (a parent of audited table public.reservation)");
        // ONLY keeps an inheritance parent's own rows, and rows inserted stay in it.
        check_not_refused("UPDATE ONLY base SET party = 1");
        check_not_refused("DELETE FROM ONLY base");
        check_not_refused("TRUNCATE ONLY base");
        check_not_refused("INSERT INTO base (id) VALUES (1)");
        check_not_refused("COPY base FROM STDIN");
        check_not_refused("SELECT * FROM base");
        // What audit.allow lets through for the audited table, it lets through its parents.
        config::Audit allow_truncate;
        allow_truncate.allow_truncate = true;
        check_not_refused("TRUNCATE p", allow_truncate);
    }

    TEST_CASE("links: writes through a revision table's ancestor are history changes") {
        for (const char* sql :
             {"DELETE FROM rev_parent", "UPDATE rev_base SET party = 1", "TRUNCATE rev_base",
              "DROP TABLE rev_parent", "DROP TABLE rev_base CASCADE",
              "ALTER TABLE rev_parent DROP COLUMN party", "DROP SCHEMA hist CASCADE",
              "CREATE TRIGGER t BEFORE INSERT ON rev_parent FOR EACH ROW "
              "EXECUTE FUNCTION f()"}) {
            check_refused(sql, "42501", "public.reservation_rev");
        }
        // Appending through it is a backfill (rewriter_bypass_test.cpp).
        check_refused("INSERT INTO rev_parent (id) VALUES (1)", "42501", "rev_backfill");
        config::Audit backfill;
        backfill.allow_rev_backfill = true;
        check_not_refused("INSERT INTO rev_parent (id) VALUES (1)", backfill);
        check_not_refused("ALTER TABLE rev_parent DETACH PARTITION reservation_rev");
        config::Audit allow;
        allow.allow_rev_table_changes = true;
        check_not_refused("DELETE FROM rev_parent", allow);
    }

    TEST_CASE("links: DDL that would give an audited or revision table a parent is refused") {
        for (const char* sql :
             {"ALTER TABLE reservation INHERIT other", "ALTER TABLE public.reservation INHERIT x.y",
              "ALTER TABLE other ATTACH PARTITION reservation FOR VALUES IN (1)",
              "ALTER TABLE other ATTACH PARTITION reservation_2026 DEFAULT",
              "ALTER TABLE base INHERIT grandparent",
              "ALTER TABLE other ATTACH PARTITION p DEFAULT",
              "CREATE TABLE reservation (id int) INHERITS (other)",
              "CREATE TABLE reservation PARTITION OF other DEFAULT",
              "CREATE TABLE c () INHERITS (reservation, other)",
              "CREATE FOREIGN TABLE reservation PARTITION OF other DEFAULT SERVER s"}) {
            check_refused(sql, "0A000", "reservation");
        }
        for (const char* sql : {"ALTER TABLE other ATTACH PARTITION reservation_rev DEFAULT",
                                "ALTER TABLE reservation_rev INHERIT other",
                                "CREATE TABLE reservation_rev PARTITION OF other DEFAULT",
                                "CREATE TABLE c () INHERITS (reservation_rev)",
                                "ALTER TABLE c INHERIT reservation_rev",
                                "ALTER TABLE other ATTACH PARTITION rev_parent DEFAULT"}) {
            check_refused(sql, "42501", "reservation_rev");
        }
    }

    TEST_CASE("links: a partition created by one statement is known to the next") {
        audit::RewritePlan created =
            plan("CREATE TABLE reservation_2027 PARTITION OF reservation DEFAULT");
        CHECK_ACTION(created, Forward);
        CHECK(created.changes_catalog);
        REQUIRE(created.new_children.size() == 1);
        CHECK(created.new_children[0].name == "reservation_2027");
        CHECK(created.new_children[0].schema.empty());
        CHECK(created.new_children[0].parent == "public.reservation");
        // In the same text, a write to it is refused as to any partition.
        check_refused(
            "CREATE TABLE r27 PARTITION OF reservation DEFAULT; INSERT INTO r27 (id) VALUES (1)",
            "0A000", "r27 (a partition or child of audited table public.reservation)");
        check_refused("ALTER TABLE reservation ATTACH PARTITION r28 DEFAULT; DELETE FROM r28",
                      "0A000", "r28");
        check_refused("ALTER TABLE r29 INHERIT reservation_2026; UPDATE x.r29 SET party = 1",
                      "0A000", "r29");
        config::Audit allow;
        allow.allow_partition_changes = true;
        CHECK(plan("ALTER TABLE r29 INHERIT reservation", allow).new_children.size() == 1);
        // Refused, it links nothing.
        CHECK(plan("ALTER TABLE r29 INHERIT reservation").new_children.empty());
        CHECK(plan("CREATE TABLE s.r30 () INHERITS (reservation_2026)").new_children[0].parent ==
              "public.reservation");
    }

    TEST_CASE("links: views of audited and revision tables are written only through them") {
        for (const char* sql : {"DELETE FROM history_view", "UPDATE history_view SET party = 1",
                                "INSERT INTO history_view (id) VALUES (1)"}) {
            check_refused(sql, "0A000", "history_view (a view of public.reservation_rev)");
        }
        check_not_refused("SELECT * FROM history_view");
        for (const char* view : {"CREATE VIEW v AS SELECT * FROM reservation",
                                 "CREATE VIEW v AS SELECT r.id FROM other o JOIN base r USING (id)",
                                 "CREATE OR REPLACE VIEW v AS SELECT * FROM reservation_rev",
                                 "CREATE VIEW v AS SELECT * FROM history_view"}) {
            CAPTURE(std::string(view));
            audit::RewritePlan p = plan(view);
            CHECK_ACTION(p, Forward);
            CHECK(p.changes_catalog);
            REQUIRE(p.new_children.size() == 1);
            CHECK(p.new_children[0].view);
            check_refused(std::string(view) + "; DELETE FROM v", "0A000", "v (a view of public.");
        }
        CHECK(plan("CREATE VIEW v AS SELECT * FROM other").new_children.empty());
    }

    TEST_CASE("links: renames that change what a configured name means are refused") {
        for (const char* sql :
             {"ALTER SCHEMA public RENAME TO old_public", "ALTER SCHEMA billing RENAME TO b2",
              "ALTER SCHEMA other RENAME TO billing", "ALTER TABLE other RENAME TO reservation",
              "ALTER VIEW v RENAME TO reservation", "ALTER TABLE x.invoice SET SCHEMA billing",
              "ALTER INDEX reservation RENAME TO r2", "ALTER SEQUENCE reservation RENAME TO r2",
              "ALTER TABLE reservation_2026 RENAME TO r26", "ALTER TABLE base RENAME TO b",
              "ALTER TABLE p SET SCHEMA other"}) {
            INFO("sql: " << std::string(sql));
            audit::RewritePlan p = plan(sql);
            CHECK_ACTION(p, Refuse);
            CHECK(p.refusal_sqlstate == "0A000");
        }
        check_refused("ALTER SCHEMA billing RENAME TO b2", "0A000",
                      "ALTER SCHEMA billing RENAME TO b2 is refused: billing is the schema of "
                      "audited table billing.invoice");
        for (const char* sql :
             {"ALTER TABLE other RENAME TO reservation_rev", "ALTER VIEW v RENAME TO invoice_rev",
              "ALTER TABLE x.invoice_rev SET SCHEMA billing",
              "ALTER INDEX reservation_rev RENAME TO r2",
              "ALTER MATERIALIZED VIEW m RENAME TO reservation_rev"}) {
            check_refused(sql, "42501", "_rev");
        }
        check_not_refused("ALTER SCHEMA other RENAME TO other2");
        check_not_refused("ALTER TABLE other RENAME TO reservations");
        check_not_refused("ALTER TABLE x.other SET SCHEMA y");
    }

    TEST_CASE("links: a relation under a revision table's name must be an ordinary table") {
        for (const char* sql :
             {"CREATE VIEW reservation_rev AS SELECT 1",
              "CREATE VIEW billing.invoice_rev AS "
              "SELECT 1",
              "CREATE MATERIALIZED VIEW reservation_rev AS SELECT 1",
              "CREATE SEQUENCE reservation_rev", "CREATE TYPE reservation_rev AS (a int)",
              "CREATE INDEX reservation_rev ON other (a)",
              "CREATE FOREIGN TABLE reservation_rev (a int) SERVER s",
              "CREATE TABLE reservation_rev (a int) PARTITION BY LIST (a)"}) {
            check_refused(sql, "42501", "_rev, which must be an ordinary table");
        }
        check_not_refused("CREATE VIEW reservation_view AS SELECT 1");
        check_not_refused("CREATE VIEW other.reservation_rev AS SELECT 1");
    }

    TEST_CASE("links: rules, triggers and policies that could divert revisions are refused") {
        for (const char* sql :
             {"CREATE TRIGGER t BEFORE INSERT ON reservation_rev FOR EACH ROW EXECUTE "
              "FUNCTION f()",
              "CREATE RULE r AS ON INSERT TO reservation_rev DO INSTEAD NOTHING",
              "CREATE POLICY p ON reservation_rev USING (false)",
              "ALTER POLICY p ON reservation_rev USING (false)"}) {
            check_refused(sql, "42501", "revision table public.reservation_rev");
        }
        check_refused("CREATE RULE r AS ON UPDATE TO reservation DO INSTEAD NOTHING", "0A000",
                      "CREATE RULE on audited table public.reservation");
        // A trigger or policy on the audited table changes what is stored, which is recorded.
        check_not_refused(
            "CREATE TRIGGER t BEFORE UPDATE ON reservation FOR EACH ROW EXECUTE FUNCTION f()");
        check_not_refused("CREATE POLICY p ON reservation USING (true)");
    }

    TEST_CASE("links: DROP ... CASCADE of what a revision table depends on is refused") {
        for (const char* sql :
             {"DROP TYPE mood CASCADE", "DROP TYPE moods.mood CASCADE",
              "DROP DOMAIN IF EXISTS mood CASCADE", "DROP TYPE other, mood CASCADE",
              "DROP SCHEMA moods CASCADE", "DROP EXTENSION citext CASCADE"}) {
            check_refused(sql, "42501", "revision table public.reservation_rev depends on it");
        }
        check_refused("ALTER TYPE mood RENAME VALUE 'a' TO 'b'", "42501", "mood");
        check_not_refused("DROP TYPE mood");  // PostgreSQL refuses it: the column needs it
        check_not_refused("DROP TYPE other.mood CASCADE");
        check_not_refused("DROP TYPE feeling CASCADE");
        check_not_refused("ALTER TYPE mood ADD VALUE 'c'");
    }
}
