// A catalog snapshot as pgrev would read it for the sqlalchemy-audit example, for unit tests.
#pragma once

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
    audit::AuditedTableInfo r{"public", "reservation",
                              {"id", "name", "date", "time", "party", "last_modified"},
                              {"id"}, config::DeleteRecord::KeyOnly};
    audit::AuditedTableInfo i{"billing", "invoice", {"no", "year", "amount"}, {"no", "year"},
                              config::DeleteRecord::FullRow};
    return audit::CatalogSnapshot({reservation, invoice}, {r, i});
}

inline audit::RewritePlan plan(std::string_view sql, const config::Audit& policy = {}) {
    static const audit::CatalogSnapshot catalog = reservation_catalog();
    return audit::plan_rewrite(sql, catalog, policy, true);
}

}  // namespace pgrev::test
