#include "audit/catalog.h"

namespace pgrev::audit {

namespace {
bool schema_matches(std::string_view wanted, const std::string& schema) {
    return wanted.empty() || schema.empty() || wanted == schema;
}
// The first of `items` whose (schema, name) a statement's name matches.
template <typename T, typename Name>
const T* find_named(const std::vector<T>& items, std::string_view schema, std::string_view name,
                    Name name_of) {
    for (const auto& item : items) {
        if (schema_matches(schema, item.schema) && name == name_of(item)) return &item;
    }
    return nullptr;
}

}  // namespace

const FlaggedRoutine* CatalogSnapshot::flagged_routine(std::string_view schema,
                                                       std::string_view name) const {
    return find_named(links_.routines, schema, name, [](const auto& r) { return r.name; });
}

const FlaggedTrigger* CatalogSnapshot::flagged_trigger(std::string_view schema,
                                                       std::string_view table) const {
    return find_named(links_.triggers, schema, table, [](const auto& t) { return t.table; });
}

const FlaggedRule* CatalogSnapshot::flagged_rule(std::string_view schema,
                                                 std::string_view table) const {
    return find_named(links_.rules, schema, table, [](const auto& r) { return r.table; });
}

const TruncateReach* CatalogSnapshot::truncate_reach(std::string_view schema,
                                                     std::string_view table) const {
    return find_named(links_.truncate_reaches, schema, table, [](const auto& t) { return t.name; });
}

const ColumnType* AuditedTableInfo::column_type(std::string_view column) const {
    if (column_types.size() != columns.size()) return nullptr;
    for (std::size_t i = 0; i < columns.size(); ++i) {
        if (columns[i] == column) return &column_types[i];
    }
    return nullptr;
}

TableMatch CatalogSnapshot::match(std::string_view schema, std::string_view name) const {
    // Among several configured tables with this name, an unqualified name takes public's.
    const config::AuditedTable* best = nullptr;
    bool is_rev = false;
    for (const auto& c : configured_) {
        if (!schema_matches(schema, c.schema)) continue;
        bool base = name == c.name;
        bool rev = !base && config::is_rev_name(name, c.name);
        if (!base && !rev) continue;
        if (best == nullptr || c.schema == "public") {
            best = &c;
            is_rev = rev;
        }
    }
    TableMatch m;
    if (best == nullptr) {
        for (const auto& c : links_.children) {
            if (schema_matches(schema, c.schema) && name == c.name) {
                m.kind = TableMatch::Kind::Child;
                m.child = &c;
                return m;
            }
        }
        // One table can be the ancestor of several: the one that reaches history counts most.
        for (const auto& a : links_.ancestors) {
            if (!schema_matches(schema, a.schema) || name != a.name) continue;
            if (m.ancestor == nullptr || (a.of_rev && !m.ancestor->of_rev) ||
                (a.partitioned && !m.ancestor->partitioned)) {
                m.kind = TableMatch::Kind::Ancestor;
                m.ancestor = &a;
            }
        }
        return m;
    }
    m.configured = best;
    if (is_rev) {
        m.kind = TableMatch::Kind::RevTable;
        return m;
    }
    for (const auto& t : present_) {
        if (t.schema == best->schema && t.name == best->name) {
            m.kind = TableMatch::Kind::Audited;
            m.table = &t;
            return m;
        }
    }
    m.kind = TableMatch::Kind::AuditedUnknown;
    return m;
}

}  // namespace pgrev::audit
