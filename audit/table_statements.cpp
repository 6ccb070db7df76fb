// Statements other than INSERT/UPDATE/DELETE that change whole tables or run a change
// without RETURNING: what pgrev refuses of them (DESIGN.md §4), and which DDL changes an
// audited table's definition.
#include <fmt/format.h>

#include <cctype>
#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"

namespace pgrev::audit {

namespace {

// EXPLAIN (ANALYZE) and EXPLAIN ANALYZE run the statement; plain EXPLAIN does not.
bool explain_runs_statement(const Json& fields) {
    bool runs = false;  // PostgreSQL takes the last ANALYZE option given
    for (const auto& opt : fields.value("options", Json::array())) {
        const Json& def = node_fields(opt);
        if (def.value("defname", "") != "analyze") continue;
        auto arg = def.find("arg");
        if (arg == def.end()) {
            runs = true;
            continue;
        }
        // ANALYZE false / off / 0: a String, or an Integer whose zero the JSON leaves out.
        const Json& value = node_fields(*arg);
        if (node_kind(*arg) == "Integer") {
            runs = value.value("ival", 0) != 0;
        } else {
            std::string text = value.value("sval", "true");
            for (char& c : text)
                c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            runs = !(text == "false" || text == "off" || text == "no" || text == "0");
        }
    }
    return runs;
}

}  // namespace

bool StatementAnalyzer::analyze_change_of_tables(std::string_view kind, const Json& f,
                                                 StatementAnalysis& a) {
    check_links(kind, f, a);
    if (kind == "MergeStmt") {
        RelationName rel = relation_name(f.at("relation"));
        TableMatch m = match(rel.schema, rel.name);
        if (!refuse_history_change(m, "MERGE", a) && is_audited(m) && !policy_.allow_merge) {
            refuse(a, "0A000",
                   fmt::format("MERGE into {} is refused: PostgreSQL 15 cannot "
                               "return the changed rows, so pgrev cannot record them (use "
                               "INSERT ... ON CONFLICT, or allow it with audit.allow: [merge])",
                               table_name(m)));
        }
        // Its WITH may hold a data-modifying statement, which pgrev does not rewrite here.
        std::string table;
        if (auto with = f.find("withClause");
            with != f.end() && count_audited_writes(*with, &table) > 0) {
            refuse(a, "0A000",
                   "cannot audit this statement: it changes " + table +
                       " in the WITH of a MERGE, which pgrev cannot rewrite");
        }
        return true;
    }
    if (kind == "TruncateStmt") {
        for (const auto& r : f.value("relations", Json::array())) {
            RelationName rel = relation_name(node_fields(r));
            TableMatch m = match(rel.schema, rel.name);
            if (!refuse_history_change(m, "TRUNCATE", a) && is_audited(m) &&
                !policy_.allow_truncate) {
                refuse(a, "0A000",
                       fmt::format("TRUNCATE of {} is refused: it would remove "
                                   "rows without revisions (use DELETE, or allow it with "
                                   "audit.allow: [truncate])",
                                   table_name(m)));
            }
        }
        return true;
    }
    if (kind == "CopyStmt") {
        if (auto rel_it = f.find("relation"); rel_it != f.end() && f.value("is_from", false)) {
            RelationName rel = relation_name(*rel_it);
            TableMatch m = match(rel.schema, rel.name);
            if (is_audited(m) && !policy_.allow_copy_from) {
                refuse(a, "0A000",
                       fmt::format("COPY FROM into {} is refused: the copied rows "
                                   "would have no revisions (use INSERT, or allow it with "
                                   "audit.allow: [copy_from])",
                                   table_name(m)));
            }
        }
        std::string table;
        if (auto q = f.find("query"); q != f.end() && count_audited_writes(*q, &table) > 0) {
            refuse(a, "0A000",
                   "cannot audit a change of " + table +
                       " inside COPY (query) TO: its rows "
                       "would have no revisions");
        }
        return true;
    }
    if (kind == "DropStmt" && f.value("removeType", "") == "OBJECT_SCHEMA" &&
        f.value("behavior", "") == "DROP_CASCADE") {
        // DROP SCHEMA ... CASCADE drops the revision tables in it.
        for (const auto& obj : f.value("objects", Json::array())) {
            std::string schema = node_fields(obj).value("sval", "");
            for (const auto& t : catalog_.configured()) {
                if (t.schema != schema) continue;
                refuse_history_change(match(t.schema, t.name + "_rev"),
                                      "DROP SCHEMA ... CASCADE", a);
            }
            // A partitioned parent of a revision table takes its partitions with it.
            for (const auto& anc : catalog_.ancestors()) {
                if (anc.schema != schema || !anc.of_rev || policy_.allow_rev_table_changes) {
                    continue;
                }
                refuse(a, "42501",
                       fmt::format("DROP SCHEMA {} CASCADE is refused: it holds {}.{}, a parent "
                                   "of revision table {}, and revision history is append-only",
                                   schema, anc.schema, anc.name, anc.descendant));
            }
        }
        return true;
    }
    if (kind == "DropOwnedStmt") {
        // It may drop revision tables, whose owner pgrev made their tables' owner.
        if (!catalog_.configured().empty() && !policy_.allow_rev_table_changes) {
            refuse(a, "42501",
                   "DROP OWNED is refused: it may drop revision tables, and revision history "
                   "is append-only (run it directly on PostgreSQL if you mean it)");
        }
        return true;
    }
    if (kind == "AlterObjectSchemaStmt" ||
        (kind == "RenameStmt" && f.value("renameType", "") == "OBJECT_TABLE")) {
        // Moving or renaming a table changes what its name means to pgrev.
        auto rel_it = f.find("relation");
        if (rel_it == f.end() || !rel_it->is_object()) return true;
        RelationName rel = relation_name(*rel_it);
        TableMatch m = match(rel.schema, rel.name);
        const char* what = kind == "AlterObjectSchemaStmt" ? "ALTER ... SET SCHEMA" : "RENAME";
        if (!refuse_history_change(m, what, a) &&
            (m.kind == TableMatch::Kind::Audited || m.kind == TableMatch::Kind::AuditedUnknown)) {
            refuse(a, "0A000",
                   fmt::format("{} of audited table {} is refused: pgrev would no longer know "
                               "it by its new name (do it directly on PostgreSQL, together "
                               "with its revision table and audit.tables)",
                               what, qualified(*m.configured)));
        }
        return true;
    }
    if (kind == "DoStmt" || kind == "CallStmt") {
        // Code pgrev cannot see into, naming an audited table: it may change its definition.
        a.changes_catalog = true;
        return true;
    }
    if (kind == "CreateStmt") {
        // A new partition (PARTITION OF) or child (INHERITS) of an audited table.
        for (const auto& parent : f.value("inhRelations", Json::array())) {
            RelationName rel = relation_name(node_fields(parent));
            if (match(rel.schema, rel.name).kind != TableMatch::Kind::None) {
                a.changes_catalog = true;
            }
        }
        return true;
    }
    if (kind == "DropStmt") {
        if (f.value("removeType", "") != "OBJECT_TABLE") return true;
        for (const auto& obj : f.value("objects", Json::array())) {
            const Json& items = node_fields(obj).value("items", Json::array());
            std::string schema, name;
            if (items.size() == 1) {
                name = node_fields(items[0]).value("sval", "");
            } else if (items.size() >= 2) {
                schema = node_fields(items[items.size() - 2]).value("sval", "");
                name = node_fields(items[items.size() - 1]).value("sval", "");
            }
            TableMatch m = match(schema, name);
            if (m.kind == TableMatch::Kind::Ancestor && m.ancestor->of_rev &&
                !policy_.allow_rev_table_changes) {
                // Its partitions (or, with CASCADE, its children) go with it.
                refuse(a, "42501",
                       fmt::format("DROP of {} is refused: it would drop the revision table "
                                   "with it, and revision history is append-only",
                                   table_name(m)));
            } else if (!refuse_history_change(m, "DROP", a) &&
                       (m.kind == TableMatch::Kind::Audited ||
                        m.kind == TableMatch::Kind::Ancestor)) {
                a.changes_catalog = true;
            }
        }
        return true;
    }
    if (kind == "AlterTableStmt" || kind == "RenameStmt") {
        auto rel_it = f.find("relation");
        if (rel_it == f.end() || !rel_it->is_object()) return true;
        RelationName rel = relation_name(*rel_it);
        TableMatch m = match(rel.schema, rel.name);
        if (!refuse_history_change(m, "ALTER", a) && m.kind != TableMatch::Kind::None) {
            a.changes_catalog = true;
        }
        return true;
    }
    if (kind == "ExplainStmt") {
        std::string table;
        if (explain_runs_statement(f) && count_audited_writes(f.at("query"), &table) > 0) {
            refuse(a, "0A000",
                   "EXPLAIN ANALYZE of a change to " + table +
                       " is refused: it would change "
                       "rows without revisions (use EXPLAIN without ANALYZE, or run it directly on "
                       "PostgreSQL)");
        }
        return true;
    }
    return false;
}

}  // namespace pgrev::audit
