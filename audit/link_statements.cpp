// Statements that reach audited or revision tables without naming them, or change what a
// configured name means (DESIGN.md §4). pgrev reads the links that exist (catalog_loader.cpp:
// children, ancestors, what each revision table depends on); what a statement would link
// anew is refused, since pgrev's catalog connection cannot see it before it commits - except
// new children of audited tables, which are known by name from the statement on.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"

namespace pgrev::audit {

namespace {

using Kind = TableMatch::Kind;

// Its rows are (or reach) an audited table's rows.
bool is_audited_side(const TableMatch& m) {
    return m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown || m.kind == Kind::Child ||
           (m.kind == Kind::Ancestor && !m.ancestor->of_rev);
}

// Its rows are (or reach) a revision table's rows.
bool is_rev_side(const TableMatch& m) {
    return m.kind == Kind::RevTable || (m.kind == Kind::Ancestor && m.ancestor->of_rev);
}

// A table whose partitions and children hold audited rows.
bool takes_audited_children(const TableMatch& m) {
    return m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown || m.kind == Kind::Child;
}

std::string dotted(const RelationName& rel) {
    return rel.schema.empty() ? rel.name : rel.schema + "." + rel.name;
}

// A qualified name given as a list of String nodes: (schema or "", name).
RelationName name_of_list(const Json& list) {
    RelationName out;
    if (!list.is_array() || list.empty()) return out;
    out.name = node_fields(list.back()).value("sval", "");
    if (list.size() >= 2) out.schema = node_fields(list[list.size() - 2]).value("sval", "");
    return out;
}

// The name of one object of a DROP, by the shape libpg_query gives each kind.
RelationName dropped_object(const Json& obj) {
    std::string_view kind = node_kind(obj);
    const Json& f = node_fields(obj);
    if (kind == "String") return {"", f.value("sval", ""), "", -1};
    if (kind == "TypeName") return name_of_list(f.value("names", Json::array()));
    if (kind == "List") return name_of_list(f.value("items", Json::array()));
    if (kind == "ObjectWithArgs") return name_of_list(f.value("objname", Json::array()));
    return {};
}

// pg_identify_object's kinds that a DROP of `remove_type` can name; null for other objects.
const char* const* dependency_kinds(const std::string& remove_type) {
    static const char* const types[] = {"type", "composite type", nullptr};
    static const char* const collations[] = {"collation", nullptr};
    static const char* const extensions[] = {"extension", nullptr};
    static const char* const schemas[] = {"schema", nullptr};
    static const char* const functions[] = {"function", "procedure", nullptr};
    if (remove_type == "OBJECT_TYPE" || remove_type == "OBJECT_DOMAIN") return types;
    if (remove_type == "OBJECT_COLLATION") return collations;
    if (remove_type == "OBJECT_EXTENSION") return extensions;
    if (remove_type == "OBJECT_SCHEMA") return schemas;
    if (remove_type == "OBJECT_FUNCTION" || remove_type == "OBJECT_PROCEDURE" ||
        remove_type == "OBJECT_ROUTINE") {
        return functions;
    }
    return nullptr;
}

bool renames_relation(const std::string& type) {
    return type == "OBJECT_TABLE" || type == "OBJECT_VIEW" || type == "OBJECT_MATVIEW" ||
           type == "OBJECT_INDEX" || type == "OBJECT_SEQUENCE" || type == "OBJECT_FOREIGN_TABLE";
}

}  // namespace

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
        refuse(a, "42501",
               fmt::format("{} of {} is refused: it reaches the revision table's rows, and "
                           "revision history is append-only",
                           what, table_name(m)));
        return;
    }
    refuse(a, "0A000",
           fmt::format("{} of {} is refused: it reaches the audited table's rows, which would "
                       "change without revisions (write to {} itself, or name the parent with "
                       "ONLY)",
                       what, table_name(m), m.ancestor->descendant));
}

void StatementAnalyzer::refuse_link(const TableMatch& m, std::string_view what,
                                    const std::string& parent, StatementAnalysis& a) {
    if (is_rev_side(m)) {
        if (policy_.allow_rev_table_changes) return;
        refuse(a, "42501",
               fmt::format("{} of {} under {} is refused: writes through {} could remove "
                           "history, and revision history is append-only",
                           what, table_name(m), parent, parent));
    } else if (is_audited_side(m)) {
        refuse(a, "0A000",
               fmt::format("{} of {} under {} is refused: writes through {} would change its "
                           "rows without revisions, and pgrev cannot see the link before it "
                           "commits (do it directly on PostgreSQL)",
                           what, table_name(m), parent, parent));
    }
}

void StatementAnalyzer::add_new_child(const RelationName& rel, const TableMatch& parent,
                                      StatementAnalysis& a, bool view) {
    // The audited or revision table whose rows it reaches.
    std::string reached = parent.kind == Kind::Child      ? parent.child->parent
                          : parent.kind == Kind::Ancestor ? parent.ancestor->descendant
                          : parent.kind == Kind::RevTable
                              ? parent.configured->schema + "." + parent.configured->name + "_rev"
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
    check_relation_names(kind, f, a);
    check_rev_dependencies(kind, f, a);
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
            refuse(a, "42501",
                   fmt::format("ALTER of {} is refused: it would change the revision table "
                               "below it, and revision history is append-only",
                               table_name(target)));
        }
    }
}

void StatementAnalyzer::check_create_links(const Json& f, StatementAnalysis& a) {
    auto rel_it = f.find("relation");
    if (rel_it == f.end()) return;
    RelationName rel = relation_name(*rel_it);
    TableMatch self = match(rel.schema, rel.name);
    if (self.kind == Kind::RevTable && f.contains("partspec") &&
        !policy_.allow_rev_table_changes) {
        // Its rows would live in partitions, tables pgrev does not know as history.
        refuse(a, "42501",
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
        refuse(a, "0A000",
               fmt::format("CREATE TABLE {} INHERITS {} and other tables is refused: writes "
                           "through the others would change audited rows without revisions",
                           dotted(rel), table_name(*audited_parent)));
        return;
    }
    add_new_child(rel, *audited_parent, a);
}

void StatementAnalyzer::check_relation_names(std::string_view kind, const Json& f,
                                             StatementAnalysis& a) {
    if (kind == "RuleStmt" || kind == "CreateTrigStmt" || kind == "CreatePolicyStmt" ||
        kind == "AlterPolicyStmt") {
        const char* key = kind == "RuleStmt" || kind == "CreateTrigStmt" ? "relation" : "table";
        if (!f.contains(key)) return;
        RelationName rel = relation_name(f.at(key));
        TableMatch m = match(rel.schema, rel.name);
        const char* what = kind == "RuleStmt"         ? "CREATE RULE"
                           : kind == "CreateTrigStmt" ? "CREATE TRIGGER"
                           : kind == "CreatePolicyStmt" ? "CREATE POLICY"
                                                        : "ALTER POLICY";
        if (is_rev_side(m) && !policy_.allow_rev_table_changes) {
            refuse(a, "42501",
                   fmt::format("{} on {} is refused: it could drop, change or divert revisions "
                               "as they are written, and revision history is append-only",
                               what, table_name(m)));
        } else if (kind == "RuleStmt" && (m.kind == Kind::Audited ||
                                          m.kind == Kind::AuditedUnknown ||
                                          m.kind == Kind::Child)) {
            // A rule on INSERT/UPDATE/DELETE makes PostgreSQL refuse pgrev's rewrite (rules do
            // not apply in a data-modifying WITH), and ON SELECT turns the table into a view.
            refuse(a, "0A000",
                   fmt::format("CREATE RULE on {} is refused: PostgreSQL does not apply rules to "
                               "the statements pgrev writes, and an ON SELECT rule would make "
                               "the table a view",
                               table_name(m)));
        }
        return;
    }
    if (kind == "RenameStmt" && f.value("renameType", "") == "OBJECT_SCHEMA") {
        std::string from = f.value("subname", "");
        std::string to = f.value("newname", "");
        for (const auto& t : catalog_.configured()) {
            if (t.schema != from && t.schema != to) continue;
            refuse(a, "0A000",
                   fmt::format("ALTER SCHEMA {} RENAME TO {} is refused: {} is the schema of "
                               "audited table {} and its revision table, which pgrev knows by "
                               "name (do it directly on PostgreSQL, together with audit.tables)",
                               from, to, t.schema, t.qualified_name()));
            return;
        }
        return;
    }
    RelationName moved;    // a relation renamed or moved
    RelationName arrives;  // the name it gets
    const char* what = nullptr;
    if (kind == "RenameStmt" && renames_relation(f.value("renameType", "")) &&
        f.contains("relation") && f.at("relation").is_object()) {
        moved = relation_name(f.at("relation"));
        arrives = {moved.schema, f.value("newname", ""), "", -1};
        what = "RENAME";
    } else if (kind == "AlterObjectSchemaStmt" && f.contains("relation") &&
               f.at("relation").is_object()) {
        moved = relation_name(f.at("relation"));
        arrives = {f.value("newschema", ""), moved.name, "", -1};
        what = "ALTER ... SET SCHEMA";
    }
    if (what != nullptr) {
        TableMatch from = match(moved.schema, moved.name);
        TableMatch to = match(arrives.schema, arrives.name);
        if (from.kind == Kind::Child || from.kind == Kind::Ancestor) {
            refuse(a, "0A000",
                   fmt::format("{} of {} is refused: pgrev would not know it by its new name "
                               "before the change commits (do it directly on PostgreSQL)",
                               what, table_name(from)));
        } else if (from.kind == Kind::RevTable) {
            refuse_history_change(from, what, a);
        } else if (from.kind == Kind::Audited || from.kind == Kind::AuditedUnknown) {
            refuse(a, "0A000",
                   fmt::format("{} of {} is refused: pgrev would no longer know it by its new "
                               "name (do it directly on PostgreSQL, together with its revision "
                               "table and audit.tables)",
                               what, table_name(from)));
        } else if (to.kind == Kind::RevTable && !policy_.allow_rev_table_changes) {
            refuse(a, "42501",
                   fmt::format("{} of {} to the name of {} is refused: only a revision table "
                               "pgrev checked may hold that name",
                               what, dotted(moved), table_name(to)));
        } else if (to.kind == Kind::Audited || to.kind == Kind::AuditedUnknown) {
            refuse(a, "0A000",
                   fmt::format("{} of {} to the name of {} is refused: its rows would become "
                               "the audited table's without revisions",
                               what, dotted(moved), table_name(to)));
        }
        return;
    }
    // Relations other than ordinary tables created under a revision table's name: pgrev would
    // take them for the history (CREATE TABLE IF NOT EXISTS skips any relation of that name).
    RelationName created;
    if (kind == "ViewStmt" && f.contains("view")) {
        created = relation_name(f.at("view"));
        what = "CREATE VIEW";
    } else if (kind == "CreateTableAsStmt" && f.value("objtype", "") == "OBJECT_MATVIEW") {
        created = relation_name(f.at("into").at("rel"));
        what = "CREATE MATERIALIZED VIEW";
    } else if (kind == "CreateSeqStmt" && f.contains("sequence")) {
        created = relation_name(f.at("sequence"));
        what = "CREATE SEQUENCE";
    } else if (kind == "CompositeTypeStmt" && f.contains("typevar")) {
        created = relation_name(f.at("typevar"));
        what = "CREATE TYPE";
    } else if (kind == "CreateForeignTableStmt" && f.contains("base")) {
        created = relation_name(f.at("base").at("relation"));
        what = "CREATE FOREIGN TABLE";
    } else if (kind == "IndexStmt" && f.contains("idxname") && f.contains("relation")) {
        created = {relation_name(f.at("relation")).schema, f.value("idxname", ""), "", -1};
        what = "CREATE INDEX";
    }
    if (what == nullptr) return;
    TableMatch m = match(created.schema, created.name);
    if (m.kind == Kind::RevTable && !policy_.allow_rev_table_changes) {
        refuse(a, "42501",
               fmt::format("{} {} is refused: that is the name of {}, which must be an "
                           "ordinary table",
                           what, dotted(created), table_name(m)));
    }
}

void StatementAnalyzer::check_rev_dependencies(std::string_view kind, const Json& f,
                                               StatementAnalysis& a) {
    const auto& deps = catalog_.rev_dependencies();
    if (deps.empty() || policy_.allow_rev_table_changes) return;
    auto find = [&](const char* const* kinds, const RelationName& name) -> const RevDependency* {
        for (const auto& d : deps) {
            if (d.name != name.name || (!name.schema.empty() && name.schema != d.schema)) continue;
            for (const char* const* k = kinds; *k != nullptr; ++k) {
                if (d.kind == *k) return &d;
            }
        }
        return nullptr;
    };
    static const char* const types[] = {"type", "composite type", nullptr};
    if (kind == "DropStmt" && f.value("behavior", "") == "DROP_CASCADE") {
        const char* const* kinds = dependency_kinds(f.value("removeType", ""));
        if (kinds == nullptr) return;
        for (const auto& obj : f.value("objects", Json::array())) {
            RelationName name = dropped_object(obj);
            if (const RevDependency* d = find(kinds, name)) {
                refuse(a, "42501",
                       fmt::format("DROP ... CASCADE of {} {} is refused: revision table {} "
                                   "depends on it, and the cascade would drop history",
                                   d->kind, dotted(name), d->rev_table));
                return;
            }
        }
    } else if (kind == "AlterEnumStmt" && f.contains("oldVal")) {
        RelationName name = name_of_list(f.value("typeName", Json::array()));
        if (const RevDependency* d = find(types, name)) {
            refuse(a, "42501",
                   fmt::format("ALTER TYPE {} RENAME VALUE is refused: revision table {} "
                               "depends on it, and renaming a value changes recorded history",
                               dotted(name), d->rev_table));
        }
    } else if (kind == "AlterTableStmt" && f.value("objtype", "") == "OBJECT_TYPE" &&
               f.contains("relation")) {
        RelationName name = relation_name(f.at("relation"));
        if (const RevDependency* d = find(types, name)) {
            refuse(a, "42501",
                   fmt::format("ALTER TYPE {} is refused: revision table {} depends on it, and "
                               "changing its attributes changes recorded history",
                               dotted(name), d->rev_table));
        }
    }
}

}  // namespace pgrev::audit
