// A catalog snapshot as pgrev would read it for the sqlalchemy-audit example, for unit tests.
#pragma once

#include <string>
#include <utility>

#include "audit/catalog.h"
#include "audit/rewriter.h"

namespace pgrev::test {

inline audit::CatalogSnapshot reservation_catalog() {
    config::AuditedTable reservation;
    reservation.name = "reservation";
    config::AuditedTable invoice;
    invoice.schema = "billing";
    invoice.name = "invoice";
    invoice.on_delete = config::DeleteRecord::FullRow;
    audit::AuditedTableInfo r{"public",
                              "reservation",
                              {"id", "name", "date", "time", "party", "last_modified"},
                              {"id"},
                              config::DeleteRecord::KeyOnly,
                              {}};
    audit::AuditedTableInfo i{"billing",
                              "invoice",
                              {"no", "year", "amount"},
                              {"no", "year"},
                              config::DeleteRecord::FullRow,
                              {}};
    return audit::CatalogSnapshot({reservation, invoice}, {r, i});
}

// The start of the revision insert for `reservation`, up to its values (DESIGN.md §2).
inline const std::string kRevInsert =
    R"(INSERT INTO "public"."reservation_rev" (rev_id, rev_created, rev_isdelete, "id", "name", )"
    R"("date", "time", "party", "last_modified") SELECT pg_catalog.gen_random_uuid(), )"
    R"(extract(epoch from pg_catalog.clock_timestamp())::float8, )";

// The plan as pgrev makes it, search_path guards included.
inline audit::RewritePlan plan_with_guards(std::string_view sql, const config::Audit& policy = {}) {
    static const audit::CatalogSnapshot catalog = reservation_catalog();
    return audit::plan_rewrite(sql, catalog, policy, true);
}

// The rev insert's search_path guard for an unqualified target (see SiteWriter).
inline std::string search_path_guard(const std::string& name, const std::string& schema) {
    return " WHERE CASE WHEN pg_catalog.to_regclass('\"" + name + "\"') = '\"" + schema + "\".\"" +
           name +
           "\"'::pg_catalog.regclass THEN true ELSE pg_catalog.format('%s', 'pgrev: search_path "
           "finds another table named " +
           name + " first; name the audited one with its schema')::pg_catalog.int4 = 0 END";
}

// The plan with the guards taken out of its text, so that shape tests read like DESIGN.md §2;
// the guards have tests of their own.
inline audit::RewritePlan plan(std::string_view sql, const config::Audit& policy = {}) {
    audit::RewritePlan p = plan_with_guards(sql, policy);
    for (const auto& [name, schema] :
         {std::pair<std::string, std::string>{"reservation", "public"}, {"invoice", "billing"}}) {
        std::string guard = search_path_guard(name, schema);
        for (auto at = p.sql.find(guard); at != std::string::npos; at = p.sql.find(guard)) {
            p.sql.erase(at, guard.size());
        }
    }
    return p;
}

}  // namespace pgrev::test
