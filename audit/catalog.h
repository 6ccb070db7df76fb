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

struct AuditedTableInfo {
    std::string schema;
    std::string name;
    std::vector<std::string> columns;      // in attnum order, dropped columns left out
    std::vector<std::string> primary_key;  // empty when the table has none
    config::DeleteRecord on_delete = config::DeleteRecord::KeyOnly;
    // Why its revisions cannot be written (its revision table lacks a column, say); empty when
    // they can. Writes to such a table are refused.
    std::string unusable;

    std::string rev_name() const { return name + "_rev"; }
};

// A partition or inheritance child (at any depth) of an audited table: writing to it changes
// the audited table's rows without naming it.
struct ChildTable {
    std::string schema;
    std::string name;
    std::string parent;  // "schema.table" of the audited table
};

// How a name in a statement relates to the configured tables.
struct TableMatch {
    enum class Kind { None, Audited, AuditedUnknown, RevTable, Child };
    Kind kind = Kind::None;
    const AuditedTableInfo* table = nullptr;           // with Audited
    const config::AuditedTable* configured = nullptr;  // with AuditedUnknown and RevTable
    const ChildTable* child = nullptr;                 // with Child
};

class CatalogSnapshot {
  public:
    CatalogSnapshot(std::vector<config::AuditedTable> configured,
                    std::vector<AuditedTableInfo> present, std::uint64_t generation = 0,
                    std::vector<ChildTable> children = {})
        : configured_(std::move(configured)),
          present_(std::move(present)),
          children_(std::move(children)),
          generation_(generation) {}

    // Distinct for every snapshot pgrev reads: plans are cached per generation.
    std::uint64_t generation() const { return generation_; }

    // `schema` empty for an unqualified name: it matches a configured table of that name,
    // preferring schema public when several schemas configure the same name.
    TableMatch match(std::string_view schema, std::string_view name) const;

    const std::vector<AuditedTableInfo>& tables() const { return present_; }
    const std::vector<ChildTable>& children() const { return children_; }
    const std::vector<config::AuditedTable>& configured() const { return configured_; }

  private:
    std::vector<config::AuditedTable> configured_;
    std::vector<AuditedTableInfo> present_;
    std::vector<ChildTable> children_;
    std::uint64_t generation_;
};

using CatalogPtr = std::shared_ptr<const CatalogSnapshot>;

}  // namespace pgrev::audit
