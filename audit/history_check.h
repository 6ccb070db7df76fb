// The SQL of `pgrev verify` and `pgrev baseline` for one audited table: text only (pure, unit
// tested in tests/audit/history_check_test.cpp); server/history_command.cpp runs it.
//
// Values are compared as their text output in the "C" collation. That is exact for every type,
// including those without an equality operator (json, point, arrays of those) or whose `=` says
// less than the stored value (float8 -0 = 0, numeric 1.0 = 1.00, jsonb, citext, a column with a
// nondeterministic collation): a revision copies the value, so the two texts are the same
// exactly when the values are. Both sides are converted in one session, so DateStyle, TimeZone
// and the like apply alike; float output is exact (shortest round-trip) as the runner leaves
// extra_float_digits positive. A revision column of a domain's base type prints as the domain.
#pragma once

#include <string>

#include "audit/catalog.h"

namespace pgrev::audit {

// The kinds of discrepancy, as the verify query spells them (its first column).
inline constexpr const char* kChanged = "changed";
inline constexpr const char* kNoRevision = "no revision";
inline constexpr const char* kDeletedButPresent = "deleted but present";
inline constexpr const char* kMissingRow = "missing row";
// No primary key: the row is in the table more often than revisions record it.
inline constexpr const char* kMoreThanRecorded = "more often than recorded";

// One statement that returns one row per discrepancy, in one pass over the table and its
// revision table.
//
// With a primary key: the latest revision of each key (greatest rev_created, ties by ctid:
// the revision table is only appended to) is matched to the current row by key. Columns:
// kind, the text of each primary-key column (in primary_key order), and the 1-based positions
// in `columns` of the columns that differ ("2,5", for `changed`; empty otherwise).
//
// Without: the table and its non-delete revisions as multisets of whole rows. A row is
// reported when the table holds it more often than non-delete revisions record it (an UPDATE
// revision records the new row only, so an old row that left the table is not seen, nor a
// DELETE that bypassed pgrev). Columns: kind (`no revision` or `more often than recorded`),
// how often in the table, how often recorded, then the text of each column.
std::string verify_sql(const AuditedTableInfo& table);

// One INSERT into the revision table that records, as of now, one revision (not a delete) for
// each row the verify query reports as `no revision` (with a key: keys without any revision;
// without: each copy of a row beyond those recorded). Run again, it inserts nothing. The
// caller holds the table in SHARE mode so no write races it.
std::string baseline_sql(const AuditedTableInfo& table);

// "schema"."name" and "schema"."name_rev", always quoted (names may be mixed case).
std::string table_sql(const AuditedTableInfo& table);
std::string rev_table_sql(const AuditedTableInfo& table);

}  // namespace pgrev::audit
