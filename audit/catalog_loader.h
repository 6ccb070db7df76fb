// Reads what pgrev needs of one database over its own admin connection (libpq, blocking: call
// it off the I/O threads), and creates or checks the revision tables: `<table>_rev` in the
// table's schema, with rev_id (uuid key), rev_created (epoch seconds), rev_isdelete and every
// column of the table, nullable and without its constraints (rev_table_ddl), so that any row
// the table can hold, or a key-only DELETE revision, can be recorded.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "audit/catalog.h"
#include "config/config.h"

namespace pgrev::audit {

// The upstream cannot be reached or refused the admin role: nothing is known of the database.
class CatalogUnavailable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A revision table exists but cannot hold the table's rows. The message names both.
class RevTableMismatch : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct CatalogLoadReport {
    CatalogPtr snapshot;
    // Of the pending children given to load_catalog, those it sees as children now.
    std::vector<ChildTable> settled;
    std::vector<std::string> created;  // revision tables created now, "schema.table_rev"
    std::vector<std::string> altered;  // columns added now, "schema.table_rev.column"
    // revision columns whose type was changed now to follow their table's,
    // "schema.table_rev.column (old to new)"
    std::vector<std::string> retyped;
};

enum class CatalogLoadMode {
    // At start: a revision table that cannot hold its table's rows stops pgrev (RevTableMismatch).
    Strict,
    // While serving: columns the table gained are added to its revision table (when
    // audit.create_rev_tables); a table whose revision table is still unusable is marked so,
    // and only writes to it are refused.
    Adapt,
};

// libpq connection string for the admin role to `database`.
std::string admin_conninfo(const config::Config& config, const std::string& database);

// `pending`: partitions and children of audited tables that statements through pgrev created
// or linked, maybe in transactions that have not committed, which pgrev's connection cannot
// see: kept in the snapshot as children until it sees them as such.
CatalogLoadReport load_catalog(const config::Config& config, const std::string& database,
                               std::uint64_t generation, CatalogLoadMode mode,
                               const std::vector<ChildTable>& pending = {});

// The databases a cluster has that accept connections (for the check at start).
std::vector<std::string> list_databases(const config::Config& config);

// The DDL of a revision table for `table`: rev columns first, then the table's columns with
// `types` (their types, a domain's base type), nullable and without constraints.
std::string rev_table_ddl(const AuditedTableInfo& table, const std::vector<std::string>& types);

}  // namespace pgrev::audit
