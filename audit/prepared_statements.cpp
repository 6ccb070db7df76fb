// SQL-level PREPARE, EXECUTE, DEALLOCATE and DISCARD: the session keeps which prepared
// statement was rewritten, so that EXECUTE's command tag is restored as PREPARE's statement's
// would be (StatementPlan::prepared_op).
#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"

namespace pgrev::audit {

void StatementAnalyzer::analyze_prepare(const StatementNode& n, StatementAnalysis& a) {
    a.plan.prepared_op = PreparedOp::Prepare;
    a.plan.prepared_name = n.fields.value("name", "");
    // PREPARE name [(types)] AS statement: the statement starts after AS.
    std::size_t i = token_at(tokens_, n.begin);
    while (i < tokens_.size() && tokens_[i].begin < n.end &&
           !(tokens_[i].depth == tokens_[token_at(tokens_, n.begin)].depth &&
             tokens_[i].is_word(sql_, "as"))) {
        ++i;
    }
    if (i + 1 >= tokens_.size()) return;
    StatementAnalysis inner;
    analyze_node(n.fields.at("query"), tokens_[i + 1].begin, n.end, inner);
    inner.plan.prepared_op = a.plan.prepared_op;
    inner.plan.prepared_name = a.plan.prepared_name;
    inner.plan.prepared_tag = inner.plan.restore_tag;
    inner.plan.restore_tag = TagVerb::None;  // PREPARE's own tag is "PREPARE"
    a = std::move(inner);
}

void StatementAnalyzer::analyze_execute(const StatementNode& n, StatementAnalysis& a) {
    a.plan.prepared_op = PreparedOp::Execute;
    a.plan.prepared_name = n.fields.value("name", "");
}

// CREATE TABLE AS EXECUTE names a prepared statement; any other CREATE TABLE AS is checked
// like a statement pgrev does not look into.
void StatementAnalyzer::analyze_create_table_as(const StatementNode& n, StatementAnalysis& a) {
    auto query = n.fields.find("query");
    if (query == n.fields.end() || node_kind(*query) != "ExecuteStmt") {
        refuse_hidden_writes(n, a);
        return;
    }
    a.plan.prepared_op = PreparedOp::CreateTableAsExecute;
    a.plan.prepared_name = node_fields(*query).value("name", "");
}

void StatementAnalyzer::analyze_deallocate(const StatementNode& n, StatementAnalysis& a) {
    a.plan.prepared_name = n.fields.value("name", "");
    a.plan.prepared_op =
        a.plan.prepared_name.empty() ? PreparedOp::DeallocateAll : PreparedOp::Deallocate;
}

void StatementAnalyzer::analyze_discard(const StatementNode& n, StatementAnalysis& a) {
    if (n.fields.value("target", "") == "DISCARD_ALL") {
        a.plan.prepared_op = PreparedOp::DeallocateAll;
    }
}

}  // namespace pgrev::audit
