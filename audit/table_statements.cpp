// Statements other than INSERT/UPDATE/DELETE that change whole tables or run a change
// without RETURNING: what pgrev refuses of them (docs/ARCHITECTURE.md, "Refusals"), and which
// DDL changes an audited table's definition. One function per statement kind, each listed in
// StatementAnalyzer::analyzer_of (statement_analyzer.cpp).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"
#include "config/text.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

// Why a write of a _rev table is refused, where it hides in a statement pgrev does not rewrite.
constexpr std::string_view kHistoryIsPgrevs = "revision history is written by pgrev alone";

using Kind = TableMatch::Kind;

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
            std::string text = config::lower_ascii(value.value("sval", "true"));
            runs = !(text == "false" || text == "off" || text == "no" || text == "0");
        }
    }
    return runs;
}

// The table a DROP TABLE names: `name` or `[catalog.]schema.name` (schema empty when unnamed).
RelationName dropped_table(const Json& object) {
    const Json& items = node_fields(object).value("items", Json::array());
    RelationName rel;
    if (items.size() == 1) {
        rel.name = node_fields(items[0]).value("sval", "");
    } else if (items.size() >= 2) {
        rel.schema = node_fields(items[items.size() - 2]).value("sval", "");
        rel.name = node_fields(items[items.size() - 1]).value("sval", "");
    }
    return rel;
}

}  // namespace

void StatementAnalyzer::analyze_merge(const StatementNode& n, StatementAnalysis& a) {
    RelationName rel = relation_name(n.fields.at("relation"));
    TableMatch m = match(rel.schema, rel.name);
    if (!refuse_history_change(m, "MERGE", a) && is_audited(m) && !policy_.allow_merge) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("MERGE into {} is refused: PostgreSQL 15 cannot "
                           "return the changed rows, so pgrev cannot record them (use "
                           "INSERT ... ON CONFLICT, or allow it with audit.allow: [merge])",
                           table_name(m)));
    }
    // Its WITH may hold a data-modifying statement, which pgrev does not rewrite here.
    HiddenWrite first;
    if (auto with = n.fields.find("withClause");
        with != n.fields.end() && count_audited_writes(*with, &first) > 0) {
        refuse(a, first.sqlstate(),
               "cannot audit this statement: it changes " + first.table +
                   " in the WITH of a MERGE, which pgrev cannot rewrite");
    }
}

void StatementAnalyzer::analyze_truncate(const StatementNode& n, StatementAnalysis& a) {
    for (const auto& r : n.fields.value("relations", Json::array())) {
        RelationName rel = relation_name(node_fields(r));
        TableMatch m = match(rel.schema, rel.name);
        if (!refuse_history_change(m, "TRUNCATE", a) && is_audited(m) && !policy_.allow_truncate) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   fmt::format("TRUNCATE of {} is refused: it would remove "
                               "rows without revisions (use DELETE, or allow it with "
                               "audit.allow: [truncate])",
                               table_name(m)));
        }
    }
}

void StatementAnalyzer::analyze_copy(const StatementNode& n, StatementAnalysis& a) {
    const Json& f = n.fields;
    if (auto rel_it = f.find("relation"); rel_it != f.end() && f.value("is_from", false)) {
        RelationName rel = relation_name(*rel_it);
        TableMatch m = match(rel.schema, rel.name);
        if (forges_history(m, "CopyStmt", f)) refuse_forged_history(m, "COPY FROM", a);
        if (is_audited(m) && !policy_.allow_copy_from) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   fmt::format("COPY FROM into {} is refused: the copied rows "
                               "would have no revisions (use INSERT, or allow it with "
                               "audit.allow: [copy_from])",
                               table_name(m)));
        }
    }
    HiddenWrite first;
    if (auto q = f.find("query"); q != f.end() && count_audited_writes(*q, &first) > 0) {
        refuse(a, first.sqlstate(),
               fmt::format("cannot audit a change of {} inside COPY (query) TO: {}", first.table,
                           first.history ? kHistoryIsPgrevs : "its rows would have no revisions"));
    }
}

void StatementAnalyzer::analyze_drop(const StatementNode& n, StatementAnalysis& a) {
    std::string type = n.fields.value("removeType", "");
    if (type == "OBJECT_SCHEMA" && n.fields.value("behavior", "") == "DROP_CASCADE") {
        for (const auto& obj : n.fields.value("objects", Json::array())) {
            refuse_drop_schema_cascade(node_fields(obj).value("sval", ""), a);
        }
    } else if (type == "OBJECT_TABLE" || type == "OBJECT_FOREIGN_TABLE") {
        // A foreign table can be a partition of an audited table too.
        for (const auto& obj : n.fields.value("objects", Json::array())) {
            analyze_drop_table(dropped_table(obj), a);
        }
    } else if (is_code_object(type)) {
        a.changes_catalog = true;
    }
}

// DROP SCHEMA ... CASCADE drops the revision tables in it.
void StatementAnalyzer::refuse_drop_schema_cascade(const std::string& schema,
                                                   StatementAnalysis& a) {
    for (const auto& t : catalog_.configured()) {
        if (t.schema != schema) continue;
        refuse_history_change(match(t.schema, config::rev_name(t.name)), "DROP SCHEMA ... CASCADE",
                              a);
    }
    // A partition or child of an audited table in it takes its rows with it.
    for (const auto& child : catalog_.children()) {
        if (child.schema != schema || child.view) continue;
        refuse_partition_change("DROP SCHEMA " + schema + " CASCADE",
                                child.schema + "." + child.name, child.parent, false, a);
    }
    // A partitioned parent of a revision table takes its partitions with it.
    for (const auto& anc : catalog_.ancestors()) {
        if (anc.schema != schema || !anc.of_rev || policy_.allow_rev_table_changes) continue;
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("DROP SCHEMA {} CASCADE is refused: it holds {}.{}, a parent "
                           "of revision table {}, and revision history is append-only",
                           schema, anc.schema, anc.name, anc.descendant));
    }
}

void StatementAnalyzer::analyze_drop_table(const RelationName& rel, StatementAnalysis& a) {
    TableMatch m = match(rel.schema, rel.name);
    if (m.kind == Kind::Ancestor && m.ancestor->of_rev && !policy_.allow_rev_table_changes) {
        // Its partitions (or, with CASCADE, its children) go with it.
        refuse(a, sqlstate::kInsufficientPrivilege,
               fmt::format("DROP of {} is refused: it would drop the revision table "
                           "with it, and revision history is append-only",
                           table_name(m)));
    } else if (m.kind == Kind::Child && !m.child->view) {
        // Its rows would vanish from the audited table's without revisions.
        refuse_partition_change("DROP TABLE " + dotted(rel), dotted(rel), m.child->parent, false,
                                a);
        a.changes_catalog = true;
    } else if (!refuse_history_change(m, "DROP", a) &&
               (m.kind == Kind::Audited || m.kind == Kind::Ancestor)) {
        a.changes_catalog = true;
    }
}

void StatementAnalyzer::analyze_drop_owned(const StatementNode&, StatementAnalysis& a) {
    // It may drop revision tables, whose owner pgrev made their tables' owner.
    if (!catalog_.configured().empty() && !policy_.allow_rev_table_changes) {
        refuse(a, sqlstate::kInsufficientPrivilege,
               "DROP OWNED is refused: it may drop revision tables, and revision history "
               "is append-only (run it directly on PostgreSQL if you mean it)");
    }
}

void StatementAnalyzer::analyze_set_schema(const StatementNode& n, StatementAnalysis& a) {
    if (is_code_object(n.fields.value("objectType", ""))) a.changes_catalog = true;
    refuse_new_name_of_audited(n.fields, "ALTER ... SET SCHEMA", a);
}

void StatementAnalyzer::analyze_rename(const StatementNode& n, StatementAnalysis& a) {
    if (is_code_object(n.fields.value("renameType", ""))) a.changes_catalog = true;
    if (n.fields.value("renameType", "") == "OBJECT_TABLE") {
        refuse_new_name_of_audited(n.fields, "RENAME", a);
    } else {
        analyze_alter_table(n, a);  // a column or constraint of a table, say
    }
}

// Moving or renaming a table changes what its name means to pgrev.
void StatementAnalyzer::refuse_new_name_of_audited(const Json& f, std::string_view what,
                                                   StatementAnalysis& a) {
    auto rel_it = f.find("relation");
    if (rel_it == f.end() || !rel_it->is_object()) return;
    RelationName rel = relation_name(*rel_it);
    TableMatch m = match(rel.schema, rel.name);
    if (!refuse_history_change(m, what, a) &&
        (m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown)) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} of audited table {} is refused: pgrev would no longer know "
                           "it by its new name (do it directly on PostgreSQL, together "
                           "with its revision table and audit.tables)",
                           what, qualified(*m.configured)));
    }
}

void StatementAnalyzer::analyze_opaque_code(const StatementNode&, StatementAnalysis& a) {
    // DO and CALL run code pgrev cannot see into, naming an audited table: it may change its
    // definition.
    a.changes_catalog = true;
}

void StatementAnalyzer::analyze_create_table(const StatementNode& n, StatementAnalysis& a) {
    // A new partition (PARTITION OF) or child (INHERITS) of an audited table.
    for (const auto& parent : n.fields.value("inhRelations", Json::array())) {
        RelationName rel = relation_name(node_fields(parent));
        if (match(rel.schema, rel.name).kind != Kind::None) a.changes_catalog = true;
    }
}

void StatementAnalyzer::analyze_alter_table(const StatementNode& n, StatementAnalysis& a) {
    auto rel_it = n.fields.find("relation");
    if (rel_it == n.fields.end() || !rel_it->is_object()) return;
    RelationName rel = relation_name(*rel_it);
    TableMatch m = match(rel.schema, rel.name);
    if (!refuse_history_change(m, "ALTER", a) && m.kind != Kind::None) a.changes_catalog = true;
}

void StatementAnalyzer::analyze_explain(const StatementNode& n, StatementAnalysis& a) {
    HiddenWrite first;
    if (explain_runs_statement(n.fields) &&
        count_audited_writes(n.fields.at("query"), &first) > 0) {
        refuse(a, first.sqlstate(),
               fmt::format(
                   "EXPLAIN ANALYZE of a change to {} is refused: {} (use EXPLAIN "
                   "without ANALYZE, or run it directly on PostgreSQL)",
                   first.table,
                   first.history ? kHistoryIsPgrevs : "it would change rows without revisions"));
    }
}

}  // namespace pgrev::audit
