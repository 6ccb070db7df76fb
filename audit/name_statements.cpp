// Statements that change what a configured name means, or what a revision table keeps
// (docs/ARCHITECTURE.md, "Refusals"): schema and relation renames, relations other than tables
// under a history's name, rules, triggers and policies that could divert revisions, and DROP ...
// CASCADE or ALTER TYPE of what a history depends on (catalog_links.cpp reads it from pg_depend).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

using Kind = TableMatch::Kind;

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

// A relation renamed or moved to another schema: the name it has and the name it gets, and
// what the statement is called in a refusal; nullptr when the statement moves no relation.
const char* moved_relation(std::string_view kind, const Json& f, RelationName& moved,
                           RelationName& arrives) {
    if (!f.contains("relation") || !f.at("relation").is_object()) return nullptr;
    if (kind == "RenameStmt" && renames_relation(f.value("renameType", ""))) {
        moved = relation_name(f.at("relation"));
        arrives = {moved.schema, f.value("newname", ""), "", -1};
        return "RENAME";
    }
    if (kind == "AlterObjectSchemaStmt") {
        moved = relation_name(f.at("relation"));
        arrives = {f.value("newschema", ""), moved.name, "", -1};
        return "ALTER ... SET SCHEMA";
    }
    return nullptr;
}

// A relation other than an ordinary table that the statement creates, and what the statement
// is called in a refusal; nullptr when it creates none.
const char* created_relation(std::string_view kind, const Json& f, RelationName& created) {
    if (kind == "ViewStmt" && f.contains("view")) {
        created = relation_name(f.at("view"));
        return "CREATE VIEW";
    }
    if (kind == "CreateTableAsStmt" && f.value("objtype", "") == "OBJECT_MATVIEW") {
        created = relation_name(f.at("into").at("rel"));
        return "CREATE MATERIALIZED VIEW";
    }
    if (kind == "CreateSeqStmt" && f.contains("sequence")) {
        created = relation_name(f.at("sequence"));
        return "CREATE SEQUENCE";
    }
    if (kind == "CompositeTypeStmt" && f.contains("typevar")) {
        created = relation_name(f.at("typevar"));
        return "CREATE TYPE";
    }
    if (kind == "CreateForeignTableStmt" && f.contains("base")) {
        created = relation_name(f.at("base").at("relation"));
        return "CREATE FOREIGN TABLE";
    }
    if (kind == "IndexStmt" && f.contains("idxname") && f.contains("relation")) {
        created = {relation_name(f.at("relation")).schema, f.value("idxname", ""), "", -1};
        return "CREATE INDEX";
    }
    return nullptr;
}

}  // namespace

// Each check below looks at statements of its own kinds only.
void StatementAnalyzer::check_relation_names(std::string_view kind, const Json& f,
                                             StatementAnalysis& a) {
    check_rules_and_policies(kind, f, a);
    if (kind == "RenameStmt" && f.value("renameType", "") == "OBJECT_SCHEMA") {
        check_schema_rename(f, a);
    }
    RelationName moved, arrives;
    if (const char* what = moved_relation(kind, f, moved, arrives)) {
        check_move(what, moved, arrives, a);
    }
    // Relations other than ordinary tables created under a revision table's name: pgrev would
    // take them for the history (CREATE TABLE IF NOT EXISTS skips any relation of that name).
    RelationName created;
    const char* what = created_relation(kind, f, created);
    if (what == nullptr) return;
    TableMatch m = match(created.schema, created.name);
    if (m.kind == Kind::RevTable && !policy_.allow_rev_table_changes) {
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("{} {} is refused: that is the name of {}, which must be an "
                           "ordinary table",
                           what, dotted(created), table_name(m)));
    }
}

void StatementAnalyzer::check_rules_and_policies(std::string_view kind, const Json& f,
                                                 StatementAnalysis& a) {
    const char* what = kind == "RuleStmt"           ? "CREATE RULE"
                       : kind == "CreateTrigStmt"   ? "CREATE TRIGGER"
                       : kind == "CreatePolicyStmt" ? "CREATE POLICY"
                       : kind == "AlterPolicyStmt"  ? "ALTER POLICY"
                                                    : nullptr;
    if (what == nullptr) return;
    const char* key = kind == "RuleStmt" || kind == "CreateTrigStmt" ? "relation" : "table";
    if (!f.contains(key)) return;
    RelationName rel = relation_name(f.at(key));
    TableMatch m = match(rel.schema, rel.name);
    if (is_rev_side(m) && !policy_.allow_rev_table_changes) {
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("{} on {} is refused: it could drop, change or divert revisions "
                           "as they are written, and revision history is append-only",
                           what, table_name(m)));
    } else if (kind == "RuleStmt" && (m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown ||
                                      m.kind == Kind::Child)) {
        // A rule on INSERT/UPDATE/DELETE makes PostgreSQL refuse pgrev's rewrite (rules do
        // not apply in a data-modifying WITH), and ON SELECT turns the table into a view.
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("CREATE RULE on {} is refused: PostgreSQL does not apply rules to "
                           "the statements pgrev writes, and an ON SELECT rule would make "
                           "the table a view",
                           table_name(m)));
    }
}

void StatementAnalyzer::check_schema_rename(const Json& f, StatementAnalysis& a) {
    std::string from = f.value("subname", "");
    std::string to = f.value("newname", "");
    for (const auto& t : catalog_.configured()) {
        if (t.schema != from && t.schema != to) continue;
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("ALTER SCHEMA {} RENAME TO {} is refused: {} is the schema of "
                           "audited table {} and its revision table, which pgrev knows by "
                           "name (do it directly on PostgreSQL, together with audit.tables)",
                           from, to, t.schema, t.qualified_name()));
        return;
    }
}

void StatementAnalyzer::check_move(const char* what, const RelationName& moved,
                                   const RelationName& arrives, StatementAnalysis& a) {
    TableMatch from = match(moved.schema, moved.name);
    TableMatch to = match(arrives.schema, arrives.name);
    if (from.kind == Kind::Child || from.kind == Kind::Ancestor) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} of {} is refused: pgrev would not know it by its new name "
                           "before the change commits (do it directly on PostgreSQL)",
                           what, table_name(from)));
    } else if (from.kind == Kind::RevTable) {
        refuse_history_change(from, what, a);
    } else if (from.kind == Kind::Audited || from.kind == Kind::AuditedUnknown) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} of {} is refused: pgrev would no longer know it by its new "
                           "name (do it directly on PostgreSQL, together with its revision "
                           "table and audit.tables)",
                           what, table_name(from)));
    } else if (to.kind == Kind::RevTable && !policy_.allow_rev_table_changes) {
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("{} of {} to the name of {} is refused: only a revision table "
                           "pgrev checked may hold that name",
                           what, dotted(moved), table_name(to)));
    } else if (to.kind == Kind::Audited || to.kind == Kind::AuditedUnknown) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} of {} to the name of {} is refused: its rows would become "
                           "the audited table's without revisions",
                           what, dotted(moved), table_name(to)));
    }
}

namespace {

// The dependency of a revision table named `name`, of one of `kinds`; nullptr when none.
const RevDependency* find_rev_dependency(const std::vector<RevDependency>& deps,
                                         const char* const* kinds, const RelationName& name) {
    for (const auto& d : deps) {
        if (d.name != name.name || (!name.schema.empty() && name.schema != d.schema)) continue;
        for (const char* const* k = kinds; *k != nullptr; ++k) {
            if (d.kind == *k) return &d;
        }
    }
    return nullptr;
}

}  // namespace

void StatementAnalyzer::check_rev_dependencies(std::string_view kind, const Json& f,
                                               StatementAnalysis& a) {
    const auto& deps = catalog_.rev_dependencies();
    if (deps.empty() || policy_.allow_rev_table_changes) return;
    auto find = [&](const char* const* kinds, const RelationName& name) {
        return find_rev_dependency(deps, kinds, name);
    };
    static const char* const types[] = {"type", "composite type", nullptr};
    if (kind == "DropStmt" && f.value("behavior", "") == "DROP_CASCADE") {
        const char* const* kinds = dependency_kinds(f.value("removeType", ""));
        if (kinds == nullptr) return;
        for (const auto& obj : f.value("objects", Json::array())) {
            RelationName name = dropped_object(obj);
            if (const RevDependency* d = find(kinds, name)) {
                refuse(a, sqlstate::kInsufficientPrivilege,
                       fmt::format("DROP ... CASCADE of {} {} is refused: revision table {} "
                                   "depends on it, and the cascade would drop history",
                                   d->kind, dotted(name), d->rev_table));
                return;
            }
        }
    } else if (kind == "AlterEnumStmt" && f.contains("oldVal")) {
        RelationName name = name_of_list(f.value("typeName", Json::array()));
        if (const RevDependency* d = find(types, name)) {
            refuse(a, sqlstate::kInsufficientPrivilege,
                   fmt::format("ALTER TYPE {} RENAME VALUE is refused: revision table {} "
                               "depends on it, and renaming a value changes recorded history",
                               dotted(name), d->rev_table));
        }
    } else if (kind == "AlterTableStmt" && f.value("objtype", "") == "OBJECT_TYPE" &&
               f.contains("relation")) {
        RelationName name = relation_name(f.at("relation"));
        if (const RevDependency* d = find(types, name)) {
            refuse(a, sqlstate::kInsufficientPrivilege,
                   fmt::format("ALTER TYPE {} is refused: revision table {} depends on it, and "
                               "changing its attributes changes recorded history",
                               dotted(name), d->rev_table));
        }
    }
}

}  // namespace pgrev::audit
