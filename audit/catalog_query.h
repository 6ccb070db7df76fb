// The catalog queries of the loader (catalog_loader.cpp) shared with the ones that read the
// links to audited and revision tables (catalog_links.cpp): libpq, blocking, internal to audit/.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <vector>

#include "audit/catalog.h"

namespace pgrev::audit {

struct QueryResultClearer {
    void operator()(PGresult* r) const { PQclear(r); }
};
using QueryResult = std::unique_ptr<PGresult, QueryResultClearer>;

// Runs `sql` with text parameters; throws CatalogUnavailable when it fails.
QueryResult catalog_exec(PGconn* conn, const std::string& sql,
                         const std::vector<std::string>& params = {});

// A text[] literal of `items` ('{"a","b"}'), for a parameter such as `$1::text[]`.
std::string text_array(const std::vector<std::string>& items);

// Parents (at any depth) of `schema.name` and of its descendants, other than those.
void read_ancestors(PGconn* conn, const std::string& schema, const std::string& name, bool of_rev,
                    std::vector<AncestorTable>& out);
// Views (at any depth) of the relations schemas[i].names[i], as children reaching `reached`.
void read_views(PGconn* conn, const std::vector<std::string>& schemas,
                const std::vector<std::string>& names, const std::string& reached,
                std::vector<ChildTable>& out);
// What the revision table `schema.rev` depends on, at any depth, that is not built in.
void read_rev_dependencies(PGconn* conn, const std::string& schema, const std::string& rev,
                           std::vector<RevDependency>& out);
// Routines, triggers and rules that reach `configured` tables (or what `links` reaches them
// through) without naming them, the foreign keys of those tables and the tables TRUNCATE ...
// CASCADE reaches them from (catalog_routines.cpp); call once the other links are read.
void read_server_side_code(PGconn* conn, const std::vector<config::AuditedTable>& configured,
                           CatalogLinks& links);
// Why what holds `info`'s revision table name cannot be it; empty when it can (or is none).
std::string rev_relation_kind_problem(PGconn* conn, const AuditedTableInfo& info);
std::string rev_owner_problem(PGconn* conn, const AuditedTableInfo& info,
                              const std::string& table_owner);
std::string rev_diversion_problem(PGconn* conn, const AuditedTableInfo& info);

}  // namespace pgrev::audit
