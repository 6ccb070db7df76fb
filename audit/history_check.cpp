#include "audit/history_check.h"

#include <algorithm>
#include <cstddef>

#include "audit/sql_lexer.h"

namespace pgrev::audit {

namespace {

// Every name pgrev writes here is schema-qualified or one of its own aliases, and operators
// carry their schema: no function, operator or collation of a user's schema can answer.
constexpr const char* kEq = " OPERATOR(pg_catalog.=) ";
constexpr const char* kNow = "extract(epoch from pg_catalog.clock_timestamp())::pg_catalog.float8";

// The exact text of a value (see the header for why text, and why "C": a column's own
// collation could be nondeterministic, and then 'A' and 'a' would compare equal).
std::string as_text(const std::string& expr) {
    return "(" + expr + ")::pg_catalog.text COLLATE pg_catalog.\"C\"";
}

std::string col(const std::string& alias, const std::string& column) {
    return alias + "." + quote_identifier(column);
}

// pgrev's own names for the derived columns: c1..cN in the table's column order, so no
// user's column name (one called "present", say) can clash with them.
std::string c(std::size_t i) {
    return "c" + std::to_string(i + 1);
}

std::size_t position(const AuditedTableInfo& t, const std::string& column) {
    return static_cast<std::size_t>(std::find(t.columns.begin(), t.columns.end(), column) -
                                    t.columns.begin());
}

// "ROW(a.x, a.y)" as text: one value standing for the whole row. A record's text quotes what
// needs quoting and tells NULL from an empty string, so equal texts are equal rows.
std::string row_text(const AuditedTableInfo& t, const std::string& alias) {
    std::string row = "ROW(";
    for (std::size_t i = 0; i < t.columns.size(); ++i)
        row += (i == 0 ? "" : ", ") + col(alias, t.columns[i]);
    return as_text(row + ")");
}

// "SELECT <extra> text(a.x) AS c1, ... FROM <relation> AS a"
std::string texts_of(const AuditedTableInfo& t, const std::string& extra,
                     const std::string& relation, const std::string& alias) {
    std::string sql = "SELECT " + extra;
    for (std::size_t i = 0; i < t.columns.size(); ++i)
        sql += (i == 0 ? "" : ", ") + as_text(col(alias, t.columns[i])) + " AS " + c(i);
    return sql + " FROM " + relation + " AS " + alias;
}

std::string rev_columns(const AuditedTableInfo& t) {
    std::string columns = "rev_id, rev_created, rev_isdelete";
    for (const auto& name : t.columns)
        columns += ", " + quote_identifier(name);
    return columns;
}

std::string verify_with_key(const AuditedTableInfo& t) {
    std::string keys;  // c<k> of the key columns, in key order
    std::string join;
    std::string key_values;
    for (const auto& k : t.primary_key) {
        std::string ck = c(position(t, k));
        keys += (keys.empty() ? "" : ", ") + ck;
        join += (join.empty() ? "" : " AND ") + ("cur." + ck) + kEq + ("rev." + ck);
        key_values += ", COALESCE(cur." + ck + ", rev." + ck + ")";
    }
    std::string differs = "ARRAY[";
    std::string any_differs;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        std::string distinct = "cur." + c(i) + " IS DISTINCT FROM rev." + c(i);
        differs += (i == 0 ? "" : ", ") +
                   ("CASE WHEN " + distinct + " THEN " + std::to_string(i + 1) + " END");
        any_differs += " OR " + distinct;
    }
    differs += "]::pg_catalog.int4[]";
    // The latest revision of every key: DISTINCT ON keeps the first row of each key in the
    // ORDER BY, one sort of the revision table. ctid breaks ties of rev_created: the revision
    // table is only ever appended to, so a later row has the greater ctid.
    std::string latest =
        texts_of(t, "DISTINCT ON (" + keys + ") true AS found, r.rev_isdelete AS deleted, ",
                 rev_table_sql(t), "r") +
        " ORDER BY " + keys + ", r.rev_created DESC, r.ctid DESC";
    // The text of each column once per side; the join is a hash or merge join on the key text.
    return "SELECT CASE WHEN rev.found IS NULL THEN '" + std::string(kNoRevision) +
           "' WHEN cur.present IS NULL THEN '" + kMissingRow + "' WHEN rev.deleted THEN '" +
           kDeletedButPresent + "' ELSE '" + kChanged + "' END" + key_values +
           ", CASE WHEN cur.present AND rev.found AND NOT rev.deleted THEN "
           "pg_catalog.array_to_string(" +
           differs + ", ',') ELSE '' END FROM (" +
           texts_of(t, "true AS present, ", table_sql(t), "t") + ") AS cur FULL JOIN (" + latest +
           ") AS rev ON " + join +
           " WHERE rev.found IS NULL OR (cur.present IS NULL AND NOT rev.deleted) OR "
           "(cur.present AND rev.deleted) OR (cur.present AND rev.found AND (false" +
           any_differs + "))";
}

// Whole rows without a key: grouped by their text on both sides, joined by it.
std::string verify_without_key(const AuditedTableInfo& t) {
    std::string shown;
    for (std::size_t i = 0; i < t.columns.size(); ++i)
        shown += ", pg_catalog.min(" + c(i) + ") AS " + c(i);
    std::string cur = "SELECT v, pg_catalog.count(*) AS n" + shown + " FROM (" +
                      texts_of(t, row_text(t, "t") + " AS v, ", table_sql(t), "t") +
                      ") AS t GROUP BY v";
    std::string recorded = "SELECT " + row_text(t, "r") + " AS v, pg_catalog.count(*) AS n FROM " +
                           rev_table_sql(t) + " AS r WHERE NOT r.rev_isdelete GROUP BY 1";
    std::string values;
    for (std::size_t i = 0; i < t.columns.size(); ++i)
        values += ", cur." + c(i);
    return "SELECT CASE WHEN rev.n IS NULL THEN '" + std::string(kNoRevision) + "' ELSE '" +
           kMoreThanRecorded + "' END, cur.n, COALESCE(rev.n, 0)" + values + " FROM (" + cur +
           ") AS cur LEFT JOIN (" + recorded + ") AS rev ON cur.v" + kEq +
           "rev.v WHERE cur.n OPERATOR(pg_catalog.>) COALESCE(rev.n, 0)";
}

std::string baseline_with_key(const AuditedTableInfo& t) {
    std::string values;
    for (const auto& name : t.columns)
        values += ", " + col("t", name);
    std::string same_key;
    for (const auto& k : t.primary_key)
        same_key +=
            (same_key.empty() ? "" : " AND ") + as_text(col("r", k)) + kEq + as_text(col("t", k));
    return "INSERT INTO " + rev_table_sql(t) + " (" + rev_columns(t) +
           ") SELECT pg_catalog.gen_random_uuid(), " + kNow + ", false" + values + " FROM " +
           table_sql(t) + " AS t WHERE NOT EXISTS (SELECT FROM " + rev_table_sql(t) +
           " AS r WHERE " + same_key + ")";
}

// Each copy of a row is numbered; copies beyond those recorded get a revision.
std::string baseline_without_key(const AuditedTableInfo& t) {
    std::string columns;
    std::string values;
    for (std::size_t i = 0; i < t.columns.size(); ++i) {
        columns += ", " + col("t", t.columns[i]) + " AS " + c(i);
        values += ", s." + c(i);
    }
    std::string v = row_text(t, "t");
    return "WITH recorded AS (SELECT " + row_text(t, "r") +
           " AS v, pg_catalog.count(*) AS n FROM " + rev_table_sql(t) +
           " AS r WHERE NOT r.rev_isdelete GROUP BY 1) INSERT INTO " + rev_table_sql(t) + " (" +
           rev_columns(t) + ") SELECT pg_catalog.gen_random_uuid(), " + kNow + ", false" + values +
           " FROM (SELECT " + v + " AS v, pg_catalog.row_number() OVER (PARTITION BY " + v +
           ") AS nth" + columns + " FROM " + table_sql(t) +
           " AS t) AS s LEFT JOIN recorded ON s.v" + kEq +
           "recorded.v WHERE s.nth OPERATOR(pg_catalog.>) COALESCE(recorded.n, 0)";
}

}  // namespace

std::string table_sql(const AuditedTableInfo& table) {
    return quote_identifier(table.schema) + "." + quote_identifier(table.name);
}

std::string rev_table_sql(const AuditedTableInfo& table) {
    return quote_identifier(table.schema) + "." + quote_identifier(table.rev_name());
}

std::string verify_sql(const AuditedTableInfo& table) {
    return table.primary_key.empty() ? verify_without_key(table) : verify_with_key(table);
}

std::string baseline_sql(const AuditedTableInfo& table) {
    return table.primary_key.empty() ? baseline_without_key(table) : baseline_with_key(table);
}

}  // namespace pgrev::audit
