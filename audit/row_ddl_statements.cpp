// Rows that change without an INSERT, UPDATE or DELETE (docs/ARCHITECTURE.md, "Refusals"):
// ALTER COLUMN ... TYPE ... USING rewrites an audited table's rows; ATTACH PARTITION and
// INHERIT make a table's rows the audited table's, DETACH PARTITION, NO INHERIT and DROP TABLE
// of a partition or child take them away. None leaves a revision, so each is refused unless
// audit.allow lets it through. (A plain TYPE change stays allowed: pgrev converts the history
// with the same cast. CREATE TABLE ... PARTITION OF makes an empty table: allowed.) And rows a
// client writes into a revision table: revisions that never happened.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

using Kind = TableMatch::Kind;

// Its partitions and children are (or reach) an audited table's rows.
bool holds_audited_rows(const TableMatch& m) {
    return m.kind == Kind::Audited || m.kind == Kind::AuditedUnknown ||
           (m.kind == Kind::Child && !m.child->view);
}

}  // namespace

std::string StatementAnalyzer::audited_of(const TableMatch& m) {
    if (m.kind == Kind::Child) return m.child->parent;
    if (m.kind == Kind::Ancestor) return m.ancestor->descendant;
    if (m.configured != nullptr) return m.configured->qualified_name();
    return m.table->schema + "." + m.table->name;
}

void StatementAnalyzer::refuse_partition_change(std::string_view what, const std::string& table,
                                                const std::string& audited, bool joins,
                                                StatementAnalysis& a) {
    if (policy_.allow_partition_changes) return;
    refuse(a, sqlstate::kFeatureNotSupported,
           fmt::format("{} is refused: the rows of {} would {} audited table {} without "
                       "revisions (allow it with audit.allow: [partition_changes])",
                       what, table, joins ? "join" : "leave", audited));
}

void StatementAnalyzer::check_row_ddl(const Json& cmd, const TableMatch& target,
                                      const RelationName& rel, StatementAnalysis& a) {
    std::string sub = cmd.value("subtype", "");
    const Json def = cmd.contains("def") ? node_fields(cmd.at("def")) : Json::object();
    if (sub == "AT_AlterColumnType") {
        // A parent's type change reaches its children (ONLY is an error for it).
        bool reaches = holds_audited_rows(target) ||
                       (target.kind == Kind::Ancestor && !target.ancestor->of_rev);
        if (!reaches || !def.contains("raw_default") || policy_.allow_column_rewrites) return;
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("ALTER COLUMN {} TYPE ... USING of {} is refused: it rewrites the "
                           "rows without revisions (change the type without USING, which pgrev "
                           "follows in the history, or allow it with audit.allow: "
                           "[column_rewrites])",
                           cmd.value("name", ""), table_name(target)));
    } else if (sub == "AT_AttachPartition" || sub == "AT_DetachPartition" ||
               sub == "AT_DetachPartitionFinalize") {
        if (!holds_audited_rows(target) || !def.contains("name")) return;
        std::string part = dotted(relation_name(def.at("name")));
        bool attach = sub == "AT_AttachPartition";
        refuse_partition_change(
            fmt::format("{} PARTITION {} of {}", attach ? "ATTACH" : "DETACH", part, dotted(rel)),
            part, audited_of(target), attach, a);
    } else if (sub == "AT_AddInherit" || sub == "AT_DropInherit") {
        RelationName parent = relation_name(def);
        TableMatch p = match(parent.schema, parent.name);
        if (!holds_audited_rows(p)) return;
        bool inherit = sub == "AT_AddInherit";
        refuse_partition_change(fmt::format("ALTER TABLE {} {}INHERIT {}", dotted(rel),
                                            inherit ? "" : "NO ", dotted(parent)),
                                dotted(rel), audited_of(p), inherit, a);
    }
}

bool StatementAnalyzer::forges_history(const TableMatch& m, std::string_view kind,
                                       const Json& fields) const {
    if (policy_.allow_rev_backfill) return false;
    if (kind == "InsertStmt") {
        auto conflict = fields.find("onConflictClause");
        if (conflict != fields.end() && conflict->value("action", "") == "ONCONFLICT_UPDATE") {
            return false;  // a change of history (refuse_history_change)
        }
    } else if (!(kind == "CopyStmt" && fields.value("is_from", false))) {
        return false;
    }
    // Rows inserted into a partitioned parent are routed to its partitions.
    return m.kind == Kind::RevTable ||
           (m.kind == Kind::Ancestor && m.ancestor->of_rev && m.ancestor->partitioned);
}

void StatementAnalyzer::refuse_forged_history(const TableMatch& m, std::string_view what,
                                              StatementAnalysis& a) {
    refuse(a, sqlstate::kInsufficientPrivilege,
           fmt::format("{} into {} is refused: rows a client writes there would be revisions "
                       "that never happened; pgrev writes the history itself (allow backfills "
                       "with audit.allow: [rev_backfill])",
                       what, table_name(m)));
}

}  // namespace pgrev::audit
