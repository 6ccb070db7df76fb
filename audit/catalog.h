// What pgrev knows of one database: for each configured table that exists there, its columns
// and primary key. Plain data, read by the loader (catalog_loader.h) and used by the rewriter.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace pgrev::audit {

// A column's type as pg_attribute holds it.
struct ColumnType {
    std::uint32_t oid = 0;
    std::int32_t typmod = -1;

    bool operator==(const ColumnType&) const = default;
};

struct AuditedTableInfo {
    std::string schema;
    std::string name;
    std::vector<std::string> columns;      // in attnum order, dropped columns left out
    std::vector<std::string> primary_key;  // empty when the table has none
    config::DeleteRecord on_delete = config::DeleteRecord::KeyOnly;
    // Why its revisions cannot be written (its revision table lacks a column, say); empty when
    // they can. Writes to such a table are refused.
    std::string unusable;
    // The type of each of `columns`; empty when not read.
    std::vector<ColumnType> column_types;

    std::string rev_name() const { return config::rev_name(name); }
    // The type of `column` (as the parser folds names); null when unknown.
    const ColumnType* column_type(std::string_view column) const;
};

// A partition or inheritance child (at any depth) of an audited table, or a view (at any
// depth) of an audited table or of what it is reached through, or of a revision table:
// writing to it changes that table's rows without naming it.
struct ChildTable {
    std::string schema;
    std::string name;
    std::string parent;  // "schema.table" of the audited (or revision) table
    bool view = false;
};

// A table that an audited table, one of its children or a revision table inherits from or is
// a partition of (at any depth): UPDATE/DELETE/TRUNCATE/MERGE through it without ONLY, and
// INSERT/COPY into it when it is partitioned, reach that table's rows without naming it.
struct AncestorTable {
    std::string schema;
    std::string name;
    std::string descendant;  // "schema.table" of the audited or revision table it reaches
    bool of_rev = false;     // it reaches a revision table: writes through it change history
    bool partitioned = false;
};

// An object a revision table depends on (a column's type, domain or collation, the extension
// or schema holding one, ...): DROP ... CASCADE of it would drop history columns.
struct RevDependency {
    std::string kind;    // pg_identify_object's type: "type", "schema", "extension", ...
    std::string schema;  // empty for objects not in a schema
    std::string name;
    std::string rev_table;  // "schema.table_rev"
};

// A user routine (function or procedure, any overload) whose source names an audited or
// revision table (or a partition, parent or view of one), or calls a routine that does: a call
// of it changes that table's rows without naming it, and pgrev cannot rewrite what it runs.
struct FlaggedRoutine {
    std::string schema;
    std::string name;
    std::string reaches;  // "audited table s.t", "revision table s.t_rev", ...
    std::string via;      // "s.f" when it names `reaches` only through another routine
};

// An enabled trigger whose function is a flagged routine: a write to its table runs it, and so
// does a write through a table it is a partition or child of.
struct FlaggedTrigger {
    std::string schema;  // of its table, or of the parent
    std::string table;
    std::string trigger;  // its name; "name of s.partition" when listed under a parent
    std::string function_schema;
    std::string function;
    std::string reaches;  // as the function's FlaggedRoutine::reaches
    // A disabled one is known too: its table's name is in the prefilter, so that ENABLE
    // TRIGGER through pgrev has the catalog read again.
    bool enabled = true;
};

// A rule (not a view's ON SELECT rule) whose action depends on an audited or revision table
// (or a partition, parent or view of one, or a flagged routine): writes to its table run it.
struct FlaggedRule {
    std::string schema;  // of its table
    std::string table;
    std::string rule;
    std::string reaches;  // "audited table s.t", "routine s.f", ...
};

// A relation whose own definition calls a flagged routine: a view's query or a row-level
// security policy (run when it is read or written), or a column default, generated column,
// check constraint or index expression (run when it is written). A view reading such a view
// is one too.
struct RoutineUser {
    std::string schema;
    std::string name;
    std::string what;  // "view", "default of column c", "constraint c", "policy p", ...
    std::string routine_schema;
    std::string routine;
    std::string reaches;  // as the routine's FlaggedRoutine::reaches
    bool on_read = false;
};

// A foreign key of an audited table (or of a partition or child of one): its ON DELETE and
// ON UPDATE actions other than NO ACTION / RESTRICT change the audited rows without revisions.
struct ForeignKeyLink {
    std::string constraint;
    std::string schema;  // the referencing table, audited or a partition or child of one
    std::string table;
    std::string ref_schema;  // the referenced table
    std::string ref_table;
    char on_delete = 'a';  // pg_constraint.confdeltype: a, r, c, n, d
    char on_update = 'a';
};

// A table TRUNCATE ... CASCADE of which also truncates an audited table (it references it
// by foreign key, at any depth).
struct TruncateReach {
    std::string schema;
    std::string name;
    std::string audited;  // "schema.table"
};

// How a name in a statement relates to the configured tables.
struct TableMatch {
    enum class Kind { None, Audited, AuditedUnknown, RevTable, Child, Ancestor };
    Kind kind = Kind::None;
    const AuditedTableInfo* table = nullptr;           // with Audited
    const config::AuditedTable* configured = nullptr;  // with AuditedUnknown and RevTable
    const ChildTable* child = nullptr;                 // with Child
    const AncestorTable* ancestor = nullptr;           // with Ancestor
};

// What the loader reads besides the tables themselves: the links through which statements
// reach them without naming them.
struct CatalogLinks {
    std::vector<ChildTable> children;
    std::vector<AncestorTable> ancestors;
    std::vector<RevDependency> rev_dependencies;
    std::vector<FlaggedRoutine> routines;
    std::vector<FlaggedTrigger> triggers;
    std::vector<FlaggedRule> rules;
    std::vector<RoutineUser> routine_users;
    std::vector<ForeignKeyLink> foreign_keys;
    std::vector<TruncateReach> truncate_reaches;
};

class CatalogSnapshot {
  public:
    CatalogSnapshot(std::vector<config::AuditedTable> configured,
                    std::vector<AuditedTableInfo> present, std::uint64_t generation = 0,
                    std::vector<ChildTable> children = {})
        : configured_(std::move(configured)),
          present_(std::move(present)),
          generation_(generation) {
        links_.children = std::move(children);
    }
    CatalogSnapshot(std::vector<config::AuditedTable> configured,
                    std::vector<AuditedTableInfo> present, std::uint64_t generation,
                    CatalogLinks links)
        : configured_(std::move(configured)),
          present_(std::move(present)),
          links_(std::move(links)),
          generation_(generation) {}

    // Distinct for every snapshot pgrev reads: plans are cached per generation.
    std::uint64_t generation() const { return generation_; }

    // `schema` empty for an unqualified name: it matches a configured table of that name,
    // preferring schema public when several schemas configure the same name. A child or
    // ancestor read with an empty schema (one created through pgrev without a schema, whose
    // schema search_path decided) matches the name in any schema.
    TableMatch match(std::string_view schema, std::string_view name) const;

    const std::vector<AuditedTableInfo>& tables() const { return present_; }
    const std::vector<ChildTable>& children() const { return links_.children; }
    const std::vector<AncestorTable>& ancestors() const { return links_.ancestors; }
    const std::vector<RevDependency>& rev_dependencies() const { return links_.rev_dependencies; }
    const std::vector<config::AuditedTable>& configured() const { return configured_; }
    const CatalogLinks& links() const { return links_; }

    // The flagged routine a call names (`schema` empty when unqualified: any schema's), the
    // first trigger or rule of the table a write names, the audited table TRUNCATE ... CASCADE
    // of it reaches: nullptr when none. Names as the parser folds them.
    const FlaggedRoutine* flagged_routine(std::string_view schema, std::string_view name) const;
    const FlaggedTrigger* flagged_trigger(std::string_view schema, std::string_view table) const;
    const FlaggedRule* flagged_rule(std::string_view schema, std::string_view table) const;
    const TruncateReach* truncate_reach(std::string_view schema, std::string_view table) const;

  private:
    std::vector<config::AuditedTable> configured_;
    std::vector<AuditedTableInfo> present_;
    CatalogLinks links_;
    std::uint64_t generation_;
};

using CatalogPtr = std::shared_ptr<const CatalogSnapshot>;

}  // namespace pgrev::audit
