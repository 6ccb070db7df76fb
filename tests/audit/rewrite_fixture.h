// A catalog snapshot as pgrev would read it for the sqlalchemy-audit example, for unit tests.
#pragma once

#include <string>
#include <utility>

#include "audit/catalog.h"
#include "audit/rewriter.h"

namespace pgrev::test {

// The configured tables of the fixture: reservation and billing.invoice (full-row deletes).
inline std::vector<config::AuditedTable> reservation_tables() {
    config::AuditedTable reservation;
    reservation.name = "reservation";
    config::AuditedTable invoice;
    invoice.schema = "billing";
    invoice.name = "invoice";
    invoice.on_delete = config::DeleteRecord::FullRow;
    return {reservation, invoice};
}

// Column types: reservation (int4, text, date, time, smallint, timestamptz), invoice (int4,
// int4, numeric(10,2)).
inline audit::CatalogSnapshot reservation_catalog() {
    audit::AuditedTableInfo r{"public",
                              "reservation",
                              {"id", "name", "date", "time", "party", "last_modified"},
                              {"id"},
                              config::DeleteRecord::KeyOnly,
                              {},
                              {{23, -1}, {25, -1}, {1082, -1}, {1083, -1}, {21, -1}, {1184, -1}}};
    constexpr std::int32_t kNumeric10_2 = ((10 << 16) | 2) + 4;
    audit::AuditedTableInfo i{"billing",
                              "invoice",
                              {"no", "year", "amount"},
                              {"no", "year"},
                              config::DeleteRecord::FullRow,
                              {},
                              {{23, -1}, {23, -1}, {1700, kNumeric10_2}}};
    return audit::CatalogSnapshot(reservation_tables(), {r, i});
}

// The fixture's catalog with server-side code that reaches reservation without naming it:
// routine public.archive names it and ops.purge calls archive; trigger log_trg on public.log
// runs archive; rule log_rule on public.ruled depends on reservation; reservation references
// public.room by foreign key (ON DELETE CASCADE); view archive_view calls archive, and so does
// the default of column x of table defaulted.
inline audit::CatalogSnapshot reservation_catalog_with_code() {
    audit::CatalogSnapshot plain = reservation_catalog();
    audit::CatalogLinks links;
    links.routines.push_back({"public", "archive", "audited table public.reservation", ""});
    links.routines.push_back(
        {"ops", "purge", "audited table public.reservation", "public.archive"});
    links.triggers.push_back(
        {"public", "log", "log_trg", "public", "archive", "audited table public.reservation"});
    links.rules.push_back({"public", "ruled", "log_rule", "audited table public.reservation"});
    links.routine_users.push_back({"public", "archive_view", "view", "public", "archive",
                                   "audited table public.reservation", true});
    links.routine_users.push_back({"public", "defaulted", "default of column x", "public",
                                   "archive", "audited table public.reservation", false});
    links.foreign_keys.push_back(
        {"reservation_room_fk", "public", "reservation", "public", "room", 'c', 'a'});
    links.truncate_reaches.push_back({"public", "room", "public.reservation"});
    return audit::CatalogSnapshot(plain.configured(), plain.tables(), 5, std::move(links));
}

// The start of the revision insert for `reservation`, up to its values (SiteWriter::rev_insert).
inline const std::string kRevInsert =
    R"(INSERT INTO "public"."reservation_rev" (rev_id, rev_created, rev_isdelete, "id", "name", )"
    R"("date", "time", "party", "last_modified") SELECT pg_catalog.gen_random_uuid(), )"
    R"(extract(epoch from pg_catalog.clock_timestamp())::pg_catalog.float8, )";

// The values of a full-row revision of `reservation`, taken by name from `source`.
inline std::string rev_values(const std::string& source = "__pgrev_dml") {
    std::string out;
    for (const char* c : {"id", "name", "date", "time", "party", "last_modified"})
        out += ", " + source + ".\"" + c + "\"";
    return out;
}

// The plan as pgrev makes it, search_path guards included.
inline audit::RewritePlan plan_with_guards(std::string_view sql, const config::Audit& policy = {}) {
    static const audit::CatalogSnapshot catalog = reservation_catalog();
    return audit::plan_rewrite(sql, catalog, policy, true);
}

// The rev insert's search_path guard for an unqualified target (see SiteWriter).
inline std::string search_path_guard(const std::string& name, const std::string& schema) {
    return "CASE WHEN '\"" + name + "\"'::pg_catalog.regclass OPERATOR(pg_catalog.=) '\"" + schema +
           "\".\"" + name +
           "\"'::pg_catalog.regclass THEN true ELSE pg_catalog.format('%s', 'pgrev: search_path "
           "finds another table named " +
           name +
           " first; name the audited one with its schema')::pg_catalog.int4 "
           "OPERATOR(pg_catalog.=) 0 END";
}

// The rev insert's check that the table has as many columns as pgrev knows (see SiteWriter).
inline std::string column_count_guard(const std::string& name, const std::string& schema,
                                      int columns) {
    std::string nulls;
    for (int i = 0; i < columns; ++i)
        nulls += i == 0 ? "NULL" : ", NULL";
    return "CASE WHEN false THEN ROW(" + nulls + ")::\"" + schema + "\".\"" + name +
           "\" IS NULL ELSE true END";
}

// The plan with the guards taken out of its text, so that shape tests show the rewrite's shape;
// the guards have tests of their own.
inline audit::RewritePlan plan(std::string_view sql, const config::Audit& policy = {}) {
    audit::RewritePlan p = plan_with_guards(sql, policy);
    struct Table {
        std::string name, schema;
        int columns;
    };
    for (const Table& t : {Table{"reservation", "public", 6}, Table{"invoice", "billing", 3}}) {
        std::string count = column_count_guard(t.name, t.schema, t.columns);
        std::string path = search_path_guard(t.name, t.schema);
        // Longest first: both guards, then each alone; after another condition (a WITH
        // query's, read whole), with AND.
        for (const std::string& guard : {" WHERE " + count + " AND " + path, " WHERE " + count,
                                         " WHERE " + path, " AND " + count, " AND " + path}) {
            for (auto at = p.sql.find(guard); at != std::string::npos; at = p.sql.find(guard)) {
                p.sql.erase(at, guard.size());
            }
        }
    }
    return p;
}

}  // namespace pgrev::test
