// The rewriter and the catalog snapshot: tables the snapshot lacks, statements that change an
// audited table's definition, and the command tags put back for the client.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/catalog.h"
#include "audit/rewriter.h"
#include "tests/audit/rewrite_fixture.h"
#include "tests/audit/sql_checks.h"

using namespace pgrev;
using audit::TagVerb;
using test::plan;

namespace {

// reservation and billing.invoice are configured; only billing.invoice exists.
audit::CatalogSnapshot catalog_without_reservation() {
    config::AuditedTable reservation;
    reservation.name = "reservation";
    config::AuditedTable invoice;
    invoice.schema = "billing";
    invoice.name = "invoice";
    audit::AuditedTableInfo i{"billing", "invoice", {"no", "amount"}, {"no"}, {}, {}, {}};
    return audit::CatalogSnapshot(std::vector<config::AuditedTable>{reservation, invoice},
                                  std::vector<audit::AuditedTableInfo>{i}, 7);
}

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("catalog: a configured table the snapshot lacks asks for the catalog") {
        auto catalog = catalog_without_reservation();
        CHECK(catalog.generation() == 7);
        for (const char* sql :
             {"UPDATE reservation SET party = 1", "INSERT INTO public.reservation DEFAULT VALUES",
              "SELECT 1; DELETE FROM reservation",
              "WITH u AS (DELETE FROM reservation RETURNING *) SELECT * FROM u"}) {
            INFO("sql: " << std::string(sql));
            auto p = audit::plan_rewrite(sql, catalog, {}, false);
            CHECK_ACTION(p, NeedCatalog);
            CHECK(p.unknown_tables == std::vector<std::string>{"public.reservation"});
            CHECK(p.sql.empty());
        }
        // The table that is present is rewritten as usual.
        auto ok = audit::plan_rewrite("DELETE FROM billing.invoice", catalog, {}, false);
        CHECK_ACTION(ok, Rewrite);
        CHECK_CONTAINS(ok.sql,
                       "INSERT INTO \"billing\".\"invoice_rev\" (rev_id, rev_created, "
                       "rev_isdelete, \"no\", \"amount\") SELECT");
        CHECK_CONTAINS(ok.sql, "true, __pgrev_dml.\"no\", NULL FROM __pgrev_dml");
    }

    TEST_CASE("catalog: with a fresh snapshot the missing table is refused with 42P01") {
        auto catalog = catalog_without_reservation();
        auto p = audit::plan_rewrite("SELECT 1; UPDATE reservation SET party = 1; SELECT 2",
                                     catalog, {}, true);
        CHECK_ACTION(p, Refuse);
        CHECK(p.refusal_sqlstate == "42P01");
        CHECK_CONTAINS(p.refusal_message, "public.reservation");
        REQUIRE(p.statements.size() == 3);
        CHECK(
            p.sql.starts_with("SELECT 1; DO $pgrev$BEGIN RAISE EXCEPTION USING ERRCODE = "
                              "'42P01', MESSAGE = 'pgrev: cannot audit table public.reservation"));
        CHECK(p.sql.ends_with("END$pgrev$; SELECT 2"));
        CHECK(p.unknown_tables.empty());
    }

    TEST_CASE("catalog: a missing table still refuses TRUNCATE and allows reads") {
        auto catalog = catalog_without_reservation();
        auto t = audit::plan_rewrite("TRUNCATE reservation", catalog, {}, false);
        CHECK_ACTION(t, Refuse);
        CHECK(t.refusal_sqlstate == "0A000");
        auto s = audit::plan_rewrite("SELECT * FROM reservation", catalog, {}, false);
        CHECK_ACTION(s, Forward);
        auto r = audit::plan_rewrite("DELETE FROM reservation_rev", catalog, {}, false);
        CHECK_ACTION(r, Refuse);
        CHECK(r.refusal_sqlstate == "42501");
    }

    TEST_CASE("catalog: match resolves names, schemas and revision tables") {
        auto c = test::reservation_catalog();
        CHECK(c.match("", "reservation").kind == audit::TableMatch::Kind::Audited);
        CHECK(c.match("public", "reservation").table->columns.size() == 6);
        CHECK(c.match("other", "reservation").kind == audit::TableMatch::Kind::None);
        CHECK(c.match("", "invoice").table->schema == "billing");
        CHECK(c.match("public", "invoice").kind == audit::TableMatch::Kind::None);
        CHECK(c.match("", "invoice_rev").kind == audit::TableMatch::Kind::RevTable);
        CHECK(c.match("", "reservation_revs").kind == audit::TableMatch::Kind::None);
        CHECK(c.match("", "Reservation").kind == audit::TableMatch::Kind::None);
        CHECK(c.match("", "_rev").kind == audit::TableMatch::Kind::None);
    }

    TEST_CASE("catalog: DDL of an audited table asks for the catalog to be read again") {
        for (const char* sql :
             {"ALTER TABLE reservation ADD COLUMN note text", "DROP TABLE reservation",
              "DROP TABLE IF EXISTS other, public.reservation CASCADE",
              "ALTER TABLE reservation RENAME COLUMN party TO guests",
              "ALTER TABLE billing.invoice DROP COLUMN amount"}) {
            INFO("sql: " << std::string(sql));
            auto p = plan(sql);
            CHECK(p.changes_catalog);
            CHECK_ACTION(p, Forward);
        }
        for (const char* sql : {"ALTER TABLE other ADD COLUMN note text", "DROP TABLE other",
                                "UPDATE reservation SET party = 1", "DROP VIEW reservation"}) {
            INFO("sql: " << std::string(sql));
            CHECK_FALSE(plan(sql).changes_catalog);
        }
        CHECK(plan("SELECT 1; ALTER TABLE reservation ADD COLUMN x int; SELECT 2").changes_catalog);
    }

    TEST_CASE("restore_tag puts the client's verb back on the server's row count") {
        CHECK(audit::restore_tag(TagVerb::Update, "INSERT 0 3") == "UPDATE 3");
        CHECK(audit::restore_tag(TagVerb::Update, "SELECT 12") == "UPDATE 12");
        CHECK(audit::restore_tag(TagVerb::Delete, "SELECT 2") == "DELETE 2");
        CHECK(audit::restore_tag(TagVerb::Delete, "INSERT 0 0") == "DELETE 0");
        CHECK(audit::restore_tag(TagVerb::Insert, "INSERT 0 5") == "INSERT 0 5");
        CHECK(audit::restore_tag(TagVerb::Insert, "SELECT 1000000") == "INSERT 0 1000000");
        CHECK(audit::restore_tag(TagVerb::None, "SELECT 1") == "SELECT 1");
    }
}

TEST_SUITE("audit") {
    // Regression (psycopg 3 in a read-only transaction): the server names the statement pgrev
    // sent; the client must read the one it sent.
    TEST_CASE("restore_error_message names the client's statement") {
        using pgrev::audit::restore_error_message;
        using pgrev::audit::TagVerb;
        CHECK(restore_error_message(TagVerb::Update,
                                    "cannot execute INSERT in a read-only transaction") ==
              "cannot execute UPDATE in a read-only transaction");
        CHECK(restore_error_message(TagVerb::Delete,
                                    "cannot execute SELECT in a read-only transaction") ==
              "cannot execute DELETE in a read-only transaction");
        CHECK(restore_error_message(TagVerb::Update, "cannot execute INSERT during recovery") ==
              "cannot execute UPDATE during recovery");
        CHECK(restore_error_message(TagVerb::None,
                                    "cannot execute INSERT in a read-only transaction") ==
              "cannot execute INSERT in a read-only transaction");
        CHECK(restore_error_message(TagVerb::Update, "division by zero") == "division by zero");
        CHECK(restore_error_message(TagVerb::Update, "cannot execute") == "cannot execute");
    }
}

TEST_SUITE("audit") {
    // Regression (review): a partition is written to under its own name.
    TEST_CASE("catalog: writes to a partition of an audited table are refused") {
        config::AuditedTable r;
        r.name = "reservation";
        audit::AuditedTableInfo info{"public", "reservation", {"id", "region"}, {"id"}, {}, {}, {}};
        audit::CatalogSnapshot catalog({r}, {info}, 1,
                                       {{"public", "res_eu", "public.reservation"}});
        CHECK(catalog.match("", "res_eu").kind == audit::TableMatch::Kind::Child);
        CHECK(catalog.match("other", "res_eu").kind == audit::TableMatch::Kind::None);
        for (const char* sql : {"INSERT INTO res_eu VALUES (1, 'eu')", "UPDATE res_eu SET id = 2",
                                "DELETE FROM public.res_eu", "TRUNCATE res_eu",
                                "WITH d AS (DELETE FROM res_eu RETURNING 1) SELECT 1"}) {
            CAPTURE(std::string(sql));
            auto p = audit::plan_rewrite(sql, catalog, {}, true);
            CHECK(p.action == audit::RewritePlan::Action::Refuse);
            CHECK(p.refusal_message.find("public.reservation") != std::string::npos);
        }
        CHECK(audit::plan_rewrite("SELECT * FROM res_eu", catalog, {}, true).action ==
              audit::RewritePlan::Action::Forward);
        CHECK(audit::plan_rewrite("CREATE TABLE res_us PARTITION OF reservation FOR VALUES IN "
                                  "('us')",
                                  catalog, {}, true)
                  .changes_catalog);
    }
}
