// Statements that reach audited or revision tables without naming them (docs/ARCHITECTURE.md,
// "Refusals"): writes through parents, and DDL that links tables. pgrev reads the links that exist
// (catalog_links.cpp: children, views, ancestors); what a statement would link anew is
// refused, since pgrev's catalog connection cannot see it before it commits - except new
// partitions, children and views of audited tables, which are known by name from the
// statement on. Renames and history guards: name_statements.cpp.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

using Kind = TableMatch::Kind;

// A table whose partitions and children hold audited rows.
bool takes_audited_children(const TableMatch& m) {
    return m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown || m.kind == Kind::Child;
}

}  // namespace

// Its rows are (or reach) an audited table's rows.
bool StatementAnalyzer::is_audited_side(const TableMatch& m) {
    return m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown || m.kind == Kind::Child ||
           (m.kind == Kind::Ancestor && !m.ancestor->of_rev);
}

// Its rows are (or reach) a revision table's rows.
bool StatementAnalyzer::is_rev_side(const TableMatch& m) {
    return m.kind == Kind::RevTable || (m.kind == Kind::Ancestor && m.ancestor->of_rev);
}

std::string StatementAnalyzer::dotted(const RelationName& rel) {
    return rel.schema.empty() ? rel.name : rel.schema + "." + rel.name;
}

TableMatch StatementAnalyzer::match(std::string_view schema, std::string_view name) const {
    TableMatch m = catalog_.match(schema, name);
    if (m.kind != Kind::None) return m;
    for (const auto& c : created_children_) {
        if ((schema.empty() || c.schema.empty() || schema == c.schema) && name == c.name) {
            m.kind = Kind::Child;
            m.child = &c;
            return m;
        }
    }
    return m;
}

bool StatementAnalyzer::reaches_through_ancestor(const TableMatch& m, std::string_view kind,
                                                 const Json& fields) const {
    if (m.kind != Kind::Ancestor) return false;
    // TRUNCATE passes the RangeVar itself; the others their statement.
    const Json& rel = kind == "TruncateStmt" ? fields : fields.at("relation");
    bool inh = rel.value("inh", false);  // false with ONLY
    bool into = kind == "InsertStmt" || kind == "CopyStmt";
    // Rows inserted into a partitioned table are routed to its partitions; an inheritance
    // parent keeps them. UPDATE, DELETE, MERGE and TRUNCATE without ONLY reach its children.
    if (!(m.ancestor->partitioned || (!into && inh))) return false;
    if (!m.ancestor->of_rev) return true;
    if (policy_.allow_rev_table_changes || kind == "CopyStmt") return false;
    if (kind == "InsertStmt") {
        auto conflict = fields.find("onConflictClause");
        return conflict != fields.end() && conflict->value("action", "") == "ONCONFLICT_UPDATE";
    }
    return true;
}

void StatementAnalyzer::refuse_through_ancestor(const TableMatch& m, std::string_view what,
                                                StatementAnalysis& a) {
    if (m.ancestor->of_rev) {
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("{} of {} is refused: it reaches the revision table's rows, and "
                           "revision history is append-only",
                           what, table_name(m)));
        return;
    }
    refuse(a, sqlstate::kFeatureNotSupported,
           fmt::format("{} of {} is refused: it reaches the audited table's rows, which would "
                       "change without revisions (write to {} itself, or name the parent with "
                       "ONLY)",
                       what, table_name(m), m.ancestor->descendant));
}

void StatementAnalyzer::refuse_link(const TableMatch& m, std::string_view what,
                                    const std::string& parent, StatementAnalysis& a) {
    if (is_rev_side(m)) {
        if (policy_.allow_rev_table_changes) return;
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("{} of {} under {} is refused: writes through {} could remove "
                           "history, and revision history is append-only",
                           what, table_name(m), parent, parent));
    } else if (is_audited_side(m)) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} of {} under {} is refused: writes through {} would change its "
                           "rows without revisions, and pgrev cannot see the link before it "
                           "commits (do it directly on PostgreSQL)",
                           what, table_name(m), parent, parent));
    }
}

void StatementAnalyzer::add_new_child(const RelationName& rel, const TableMatch& parent,
                                      StatementAnalysis& a, bool view) {
    // The audited or revision table whose rows it reaches.
    std::string reached =
        parent.kind == Kind::Child      ? parent.child->parent
        : parent.kind == Kind::Ancestor ? parent.ancestor->descendant
        : parent.kind == Kind::RevTable
            ? parent.configured->schema + "." + config::rev_name(parent.configured->name)
            : parent.configured->qualified_name();
    ChildTable child{rel.schema, rel.name, reached, view};
    created_children_.push_back(child);
    a.new_children.push_back(std::move(child));
    a.changes_catalog = true;
}

void StatementAnalyzer::check_write_through_ancestor(std::string_view kind, const Json& fields,
                                                     StatementAnalysis& a) {
    RelationName rel = relation_name(fields.at("relation"));
    TableMatch m = match(rel.schema, rel.name);
    if (!reaches_through_ancestor(m, kind, fields)) return;
    refuse_through_ancestor(m,
                            kind == "InsertStmt"   ? "INSERT"
                            : kind == "UpdateStmt" ? "UPDATE"
                                                   : "DELETE",
                            a);
}

void StatementAnalyzer::check_links(std::string_view kind, const Json& f, StatementAnalysis& a) {
    if (kind == "TruncateStmt") {
        for (const auto& r : f.value("relations", Json::array())) {
            const Json& rf = node_fields(r);
            RelationName rel = relation_name(rf);
            TableMatch m = match(rel.schema, rel.name);
            if (reaches_through_ancestor(m, kind, rf) &&
                (m.ancestor->of_rev || !policy_.allow_truncate)) {
                refuse_through_ancestor(m, "TRUNCATE", a);
            }
        }
    } else if (kind == "MergeStmt") {
        RelationName rel = relation_name(f.at("relation"));
        TableMatch m = match(rel.schema, rel.name);
        if (reaches_through_ancestor(m, kind, f) && (m.ancestor->of_rev || !policy_.allow_merge)) {
            refuse_through_ancestor(m, "MERGE", a);
        }
    } else if (kind == "CopyStmt" && f.value("is_from", false) && f.contains("relation")) {
        RelationName rel = relation_name(f.at("relation"));
        TableMatch m = match(rel.schema, rel.name);
        if (reaches_through_ancestor(m, kind, f) && !policy_.allow_copy_from) {
            refuse_through_ancestor(m, "COPY FROM", a);
        }
    } else if (kind == "AlterTableStmt") {
        check_alter_table_links(f, a);
    } else if (kind == "CreateStmt") {
        check_create_links(f, a);
    } else if (kind == "CreateForeignTableStmt" && f.contains("base")) {
        check_create_links(f.at("base"), a);
    } else if (kind == "ViewStmt" && f.contains("view") && f.contains("query")) {
        check_view_links(f, a);
    }
    check_relation_names(kind, f, a);
    check_rev_dependencies(kind, f, a);
}

void StatementAnalyzer::check_view_links(const Json& f, StatementAnalysis& a) {
    // Writes to a view reach what it reads: from now on it is written to only through that.
    RelationName view = relation_name(f.at("view"));
    if (match(view.schema, view.name).kind == Kind::Child) a.changes_catalog = true;
    bool added = false;
    for_each_node(f.at("query"), [&](std::string_view k, const Json& rf) {
        if (added || k != "RangeVar") return;
        RelationName read = relation_name(rf);
        TableMatch m = match(read.schema, read.name);
        if (!is_audited_side(m) && !is_rev_side(m)) return;
        add_new_child(view, m, a, true);
        added = true;
    });
}

void StatementAnalyzer::check_alter_table_links(const Json& f, StatementAnalysis& a) {
    auto rel_it = f.find("relation");
    if (rel_it == f.end() || !rel_it->is_object()) return;
    RelationName rel = relation_name(*rel_it);
    if (f.value("objtype", "") == "OBJECT_TYPE") return;  // ALTER TYPE: check_rev_dependencies
    TableMatch target = match(rel.schema, rel.name);
    for (const auto& cmd_node : f.value("cmds", Json::array())) {
        const Json& cmd = node_fields(cmd_node);
        std::string sub = cmd.value("subtype", "");
        if (sub == "AT_AddInherit" && cmd.contains("def")) {
            RelationName parent = relation_name(node_fields(cmd.at("def")));
            TableMatch p = match(parent.schema, parent.name);
            refuse_link(target, "INHERIT", dotted(parent), a);
            if (p.kind == Kind::RevTable) {
                refuse_history_change(p, "INHERIT from", a);
            } else if (takes_audited_children(p)) {
                add_new_child(rel, p, a);
            }
        } else if (sub == "AT_AttachPartition" && cmd.contains("def")) {
            RelationName part = relation_name(node_fields(cmd.at("def")).at("name"));
            refuse_link(match(part.schema, part.name), "ATTACH PARTITION", dotted(rel), a);
            if (takes_audited_children(target)) add_new_child(part, target, a);
        } else if (target.kind == Kind::Ancestor && target.ancestor->of_rev &&
                   sub != "AT_DetachPartition" && sub != "AT_DetachPartitionFinalize" &&
                   !policy_.allow_rev_table_changes) {
            // Columns, constraints and triggers of a parent reach its partitions and children.
            refuse(a, sqlstate::kInsufficientPrivilege,
                   fmt::format("ALTER of {} is refused: it would change the revision table "
                               "below it, and revision history is append-only",
                               table_name(target)));
        }
        check_row_ddl(cmd, target, rel, a);  // row_ddl_statements.cpp
    }
}

void StatementAnalyzer::check_create_links(const Json& f, StatementAnalysis& a) {
    auto rel_it = f.find("relation");
    if (rel_it == f.end()) return;
    RelationName rel = relation_name(*rel_it);
    TableMatch self = match(rel.schema, rel.name);
    if (self.kind == Kind::RevTable && f.contains("partspec") && !policy_.allow_rev_table_changes) {
        // Its rows would live in partitions, tables pgrev does not know as history.
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("CREATE TABLE {} ... PARTITION BY is refused: that is the name of {}, "
                           "which must be an ordinary table",
                           dotted(rel), table_name(self)));
    }
    const Json parents = f.value("inhRelations", Json::array());
    if (parents.empty()) return;
    RelationName first = relation_name(node_fields(parents[0]));
    if (self.kind == Kind::Audited || self.kind == Kind::AuditedUnknown ||
        self.kind == Kind::RevTable) {
        refuse_link(self, "CREATE TABLE ... PARTITION OF / INHERITS", dotted(first), a);
        return;
    }
    std::optional<TableMatch> audited_parent;
    for (const auto& p_node : parents) {
        RelationName parent = relation_name(node_fields(p_node));
        TableMatch p = match(parent.schema, parent.name);
        if (p.kind == Kind::RevTable) {
            refuse_history_change(p, "CREATE TABLE ... PARTITION OF / INHERITS", a);
        } else if (takes_audited_children(p) && !audited_parent) {
            audited_parent = p;
        }
    }
    if (!audited_parent) return;
    if (parents.size() > 1) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("CREATE TABLE {} INHERITS {} and other tables is refused: writes "
                           "through the others would change audited rows without revisions",
                           dotted(rel), table_name(*audited_parent)));
        return;
    }
    add_new_child(rel, *audited_parent, a);
}

}  // namespace pgrev::audit
