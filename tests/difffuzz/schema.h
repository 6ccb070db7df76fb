// The fuzzed schema: a few table shapes, created identically in `direct_db` and
// `proxied_db`. In direct_db a PL/pgSQL row trigger on every audited table writes the revision
// rows pgrev would write (the model), and an event trigger keeps each `_rev` table's columns in
// step with DDL, as pgrev does; proxied_db is audited by pgrev.
#pragma once

#include <string>
#include <vector>

namespace pgrev::difffuzz {

enum class ColKind { Int, Text, Numeric, Code, Generated };

struct Column {
    std::string name;  // as stored in the catalog (case kept)
    ColKind kind;
    bool key = false;       // part of the primary key
    bool not_null = false;  // NOT NULL (keys included)
    bool has_default = false;
};

struct Table {
    std::string schema;
    std::string name;
    std::vector<Column> columns;
    bool serial_key = false;  // the key comes from a sequence (may be left out of INSERT)
    bool has_key() const;
};

// The audited tables, as created (the generator copies them and follows its own DDL).
const std::vector<Table>& audited_tables();

// The same schema for both databases (tables, BEFORE trigger, domain, snapshot function).
std::string schema_sql();
// Removes everything schema_sql() and model_sql() made (and what DDL of a case added).
std::string drop_schema_sql();
// direct_db only: the revision tables and the triggers that fill them.
std::string model_sql();
// Empties every table and revision table and puts the starting rows back (no revisions).
std::string reset_rows_sql();
// The value of pgrev's `audit:` key, in YAML flow style.
std::string audit_yaml();

}  // namespace pgrev::difffuzz
