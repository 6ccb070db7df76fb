#include "audit/statement_analyzer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include <nlohmann/json.hpp>

namespace pgrev::audit {

namespace {

TagVerb verb_of(std::string_view kind) {
    if (kind == "InsertStmt") return TagVerb::Insert;
    if (kind == "UpdateStmt") return TagVerb::Update;
    if (kind == "DeleteStmt") return TagVerb::Delete;
    return TagVerb::None;
}

bool is_dml(std::string_view kind) {
    return verb_of(kind) != TagVerb::None;
}

// Whether a statement on a revision table would change history rather than append to it.
bool changes_history(std::string_view kind, const Json& fields) {
    if (kind != "InsertStmt") return true;
    auto conflict = fields.find("onConflictClause");
    return conflict != fields.end() && conflict->value("action", "") == "ONCONFLICT_UPDATE";
}

}  // namespace

std::string StatementAnalyzer::table_name(const TableMatch& m) const {
    if (m.kind == TableMatch::Kind::Child) {
        std::string name = m.child->schema.empty() ? m.child->name
                                                   : m.child->schema + "." + m.child->name;
        const char* what =
            m.child->view ? " (a view of " : " (a partition or child of audited table ";
        return name + what + m.child->parent + ")";
    }
    if (m.kind == TableMatch::Kind::Ancestor) {
        return m.ancestor->schema + "." + m.ancestor->name + " (a parent of " +
               (m.ancestor->of_rev ? "revision table " : "audited table ") +
               m.ancestor->descendant + ")";
    }
    if (m.configured == nullptr) return "an audited table";
    if (m.kind == TableMatch::Kind::RevTable) {
        return "revision table " + qualified(*m.configured) + "_rev";
    }
    return "audited table " + qualified(*m.configured);
}

std::string StatementAnalyzer::qualified(const config::AuditedTable& t) const {
    return t.schema + "." + t.name;
}

void StatementAnalyzer::refuse(StatementAnalysis& a, std::string sqlstate, std::string message) {
    if (a.refused) return;  // the first reason is the one reported
    a.refused = true;
    a.sqlstate = std::move(sqlstate);
    a.message = "pgrev: " + std::move(message);
}

std::size_t StatementAnalyzer::last_token_end(std::size_t begin, std::size_t end) const {
    std::size_t i = token_at(tokens_, end);
    while (i > 0 && tokens_[i - 1].begin >= begin) {
        if (tokens_[i - 1].kind != TokenKind::Semicolon) return tokens_[i - 1].end;
        --i;
    }
    return begin;
}

StatementAnalysis StatementAnalyzer::analyze(const ParsedStatement& statement) {
    StatementAnalysis a;
    cte_names_.clear();
    analyze_node(*statement.node, statement.begin, statement.end, a);
    return a;
}

void StatementAnalyzer::analyze_node(const Json& node, std::size_t begin, std::size_t end,
                                     StatementAnalysis& a) {
    std::string_view kind = node_kind(node);
    const Json& f = node_fields(node);

    if (is_dml(kind) || kind == "SelectStmt") {
        analyze_ctes(f, a);
        if (is_dml(kind)) {
            check_target_is_not_rev(kind, f, a);
            analyze_dml(kind, f, end, a);
        }
        // Everything that writes an audited table must be a site the rewrite handles: a DML
        // in a sub-select's WITH, say, is an error in PostgreSQL anyway, and refused here.
        int handled = static_cast<int>(a.in_ctes.size()) + (a.main ? 1 : 0);
        std::string table;
        if (!a.refused && a.unknown_tables.empty() &&
            count_audited_writes(node, &table) != handled) {
            refuse(a, "0A000",
                   "cannot audit this statement: it changes " + table +
                       " in a place pgrev cannot rewrite (only the statement itself and its "
                       "top-level WITH can)");
        }
        return;
    }
    if (analyze_change_of_tables(kind, f, a)) return;
    if (kind == "PrepareStmt") {
        a.plan.prepared_op = PreparedOp::Prepare;
        a.plan.prepared_name = f.value("name", "");
        // PREPARE name [(types)] AS statement: the statement starts after AS.
        std::size_t i = token_at(tokens_, begin);
        while (i < tokens_.size() && tokens_[i].begin < end &&
               !(tokens_[i].depth == tokens_[token_at(tokens_, begin)].depth &&
                 tokens_[i].is_word(sql_, "as"))) {
            ++i;
        }
        if (i + 1 >= tokens_.size()) return;
        StatementAnalysis inner;
        analyze_node(f.at("query"), tokens_[i + 1].begin, end, inner);
        inner.plan.prepared_op = a.plan.prepared_op;
        inner.plan.prepared_name = a.plan.prepared_name;
        inner.plan.prepared_tag = inner.plan.restore_tag;
        inner.plan.restore_tag = TagVerb::None;  // PREPARE's own tag is "PREPARE"
        a = std::move(inner);
        return;
    }
    if (kind == "CreateTableAsStmt" &&
        node_kind(f.value("query", Json::object())) == "ExecuteStmt") {
        a.plan.prepared_op = PreparedOp::CreateTableAsExecute;
        a.plan.prepared_name = node_fields(f.at("query")).value("name", "");
        return;
    }
    if (kind == "ExecuteStmt") {
        a.plan.prepared_op = PreparedOp::Execute;
        a.plan.prepared_name = f.value("name", "");
        return;
    }
    if (kind == "DeallocateStmt") {
        a.plan.prepared_name = f.value("name", "");
        a.plan.prepared_op =
            a.plan.prepared_name.empty() ? PreparedOp::DeallocateAll : PreparedOp::Deallocate;
        return;
    }
    if (kind == "DiscardStmt") {
        std::string target = f.value("target", "");
        if (target == "DISCARD_ALL") a.plan.prepared_op = PreparedOp::DeallocateAll;
        return;
    }
    // Definitions (functions, rules, triggers, views) do not run now: writes they make later
    // are outside what a proxy can see (README). Anything else that writes is refused.
    if (kind == "CreateFunctionStmt" || kind == "RuleStmt" || kind == "CreateTrigStmt" ||
        kind == "ViewStmt") {
        return;
    }
    std::string table;
    if (count_audited_writes(node, &table) > 0) {
        refuse(a, "0A000",
               "cannot audit this statement: it changes " + table +
                   " in a place pgrev cannot rewrite");
    }
}

void StatementAnalyzer::check_target_is_not_rev(std::string_view kind, const Json& fields,
                                                StatementAnalysis& a) {
    check_write_through_ancestor(kind, fields, a);
    if (!changes_history(kind, fields)) return;
    RelationName rel = relation_name(fields.at("relation"));
    refuse_history_change(match(rel.schema, rel.name),
                          verb_of(kind) == TagVerb::Insert ? "INSERT ... ON CONFLICT DO UPDATE"
                                                           : verb_name(verb_of(kind)),
                          a);
}

bool StatementAnalyzer::refuse_history_change(const TableMatch& m, std::string_view what,
                                              StatementAnalysis& a) {
    if (m.kind != TableMatch::Kind::RevTable || policy_.allow_rev_table_changes) return false;
    refuse(a, "42501",
           fmt::format("{} of revision table {}_rev is refused: revision history is append-only",
                       what, qualified(*m.configured)));
    return true;
}

int StatementAnalyzer::count_audited_writes(const Json& node, std::string* first) const {
    int count = 0;
    for_each_node(node, [&](std::string_view kind, const Json& fields) {
        if (!is_dml(kind) && kind != "MergeStmt") return;
        auto rel_it = fields.find("relation");
        if (rel_it == fields.end()) return;
        RelationName rel = relation_name(*rel_it);
        TableMatch m = match(rel.schema, rel.name);
        bool audited = is_audited(m) || reaches_through_ancestor(m, kind, fields);
        bool history = m.kind == TableMatch::Kind::RevTable && !policy_.allow_rev_table_changes &&
                       changes_history(kind, fields);
        if (!audited && !history) return;
        if (count++ == 0 && first != nullptr) {
            *first = table_name(m);
        }
    });
    return count;
}

void StatementAnalyzer::analyze_ctes(const Json& fields, StatementAnalysis& a) {
    auto with = fields.find("withClause");
    if (with == fields.end()) return;
    for (const auto& cte_node : with->value("ctes", Json::array())) {
        cte_names_.push_back(node_fields(cte_node).value("ctename", ""));
    }
    for (const auto& cte_node : with->value("ctes", Json::array())) {
        const Json& cte = node_fields(cte_node);
        const Json& query = cte.at("ctequery");
        std::string_view kind = node_kind(query);
        if (!is_dml(kind)) continue;
        const Json& qf = node_fields(query);
        check_target_is_not_rev(kind, qf, a);
        // The CTE's parentheses: the first "(" after AS at the CTE's own depth.
        std::size_t name_tok = token_at(tokens_, location_of(cte));
        if (name_tok >= tokens_.size()) continue;
        int depth = tokens_[name_tok].depth;
        std::size_t i = name_tok;
        while (i < tokens_.size() &&
               !(tokens_[i].depth == depth && tokens_[i].is_word(sql_, "as"))) {
            ++i;
        }
        std::size_t as_tok = i;
        while (i < tokens_.size() && tokens_[i].kind != TokenKind::OpenParen)
            ++i;
        std::size_t close = matching_paren(tokens_, i);
        if (close >= tokens_.size()) continue;
        auto site = dml_site(kind, qf, tokens_[close].begin, a);
        if (!site) continue;
        site->in_cte = true;
        site->cte_name = cte.value("ctename", "");
        site->cte_begin = tokens_[name_tok].begin;
        site->cte_as_end = tokens_[as_tok].end;
        site->cte_open_end = tokens_[i].end;
        site->cte_end = tokens_[close].end;
        if (qf.contains("withClause")) {
            refuse(a, "0A000",
                   "cannot audit a change of an audited table in a WITH query that has a WITH "
                   "clause of its own");
            continue;
        }
        a.in_ctes.push_back(std::move(*site));
    }
}

void StatementAnalyzer::analyze_dml(std::string_view kind, const Json& fields, std::size_t end,
                                    StatementAnalysis& a) {
    auto site = dml_site(kind, fields, end, a);
    if (!site) return;
    a.plan.restore_tag = site->verb;
    a.rewrite_begin = site->begin;
    if (auto with = fields.find("withClause"); with != fields.end()) {
        a.has_with = true;
        a.with_recursive = with->value("recursive", false);
        std::size_t w = token_at(tokens_, location_of(*with));
        a.rewrite_begin = tokens_[w].begin;  // the WITH keyword
        std::size_t first = w + 1;
        if (a.with_recursive && first < tokens_.size() &&
            tokens_[first].is_word(sql_, "recursive")) {
            ++first;
        }
        a.with_list_begin = first < tokens_.size() ? tokens_[first].begin : site->begin;
        a.with_list_end = last_token_end(a.with_list_begin, site->begin);
    }
    a.main = std::move(site);
}

std::optional<DmlSite> StatementAnalyzer::dml_site(std::string_view kind, const Json& fields,
                                                   std::size_t end, StatementAnalysis& a) {
    RelationName rel = relation_name(fields.at("relation"));
    TableMatch m = match(rel.schema, rel.name);
    if (m.kind == TableMatch::Kind::AuditedUnknown) {
        a.unknown_tables.push_back(qualified(*m.configured));
        return std::nullopt;
    }
    if (m.kind == TableMatch::Kind::Child) {
        refuse(a, "0A000",
               fmt::format("{} of {} is refused: pgrev audits it through {}, so write to that "
                           "table instead",
                           verb_name(verb_of(kind)), table_name(m), m.child->parent));
        return std::nullopt;
    }
    if (m.kind != TableMatch::Kind::Audited) return std::nullopt;
    if (!m.table->unusable.empty()) {
        refuse(a, "55000",
               fmt::format("cannot audit {}.{}: {}", m.table->schema, m.table->name,
                           m.table->unusable));
        return std::nullopt;
    }

    DmlSite s;
    s.verb = verb_of(kind);
    s.table = m.table;
    s.ref = rel.alias.empty() ? rel.name : rel.alias;
    s.unqualified = rel.schema.empty();
    // The verb is the last INSERT/UPDATE/DELETE word before the table's name; only INTO,
    // FROM and ONLY can stand between them.
    std::size_t t = token_at(tokens_, rel.location);
    while (t > 0) {
        --t;
        const Token& tok = tokens_[t];
        if (tok.is_word(sql_, "into") || tok.is_word(sql_, "from") || tok.is_word(sql_, "only")) {
            continue;
        }
        break;
    }
    if (t >= tokens_.size() ||
        !(tokens_[t].is_word(sql_, "insert") || tokens_[t].is_word(sql_, "update") ||
          tokens_[t].is_word(sql_, "delete"))) {
        refuse(a, "0A000", "cannot audit this statement: pgrev could not find its verb");
        return std::nullopt;
    }
    s.begin = tokens_[t].begin;
    s.end = last_token_end(s.begin, end);
    s.body_end = s.end;

    if (auto ret = fields.find("returningList"); ret != fields.end() && !ret->empty()) {
        s.has_returning = true;
        std::size_t first = token_at(tokens_, location_of(node_fields((*ret)[0])));
        if (first == 0 || !tokens_[first - 1].is_word(sql_, "returning")) {
            refuse(a, "0A000", "cannot audit this statement: pgrev could not find RETURNING");
            return std::nullopt;
        }
        s.returning_begin = tokens_[first].begin;
        s.body_end = last_token_end(s.begin, tokens_[first - 1].begin);
        if (!analyze_returning_columns(*ret, s, a)) return std::nullopt;
        for (const auto& item : *ret) {
            const Json& target = node_fields(item);
            const Json& val = target.value("val", Json::object());
            if (node_kind(val) != "ColumnRef") continue;
            const Json& col_fields = node_fields(val).value("fields", Json::array());
            if (col_fields.size() == 1 && node_kind(col_fields[0]) == "A_Star") {
                s.bare_stars.push_back(location_of(node_fields(val)));
            }
        }
        const char* from_key = s.verb == TagVerb::Update   ? "fromClause"
                               : s.verb == TagVerb::Delete ? "usingClause"
                                                           : nullptr;
        if (from_key != nullptr) {
            for (const auto& item : fields.value(from_key, Json::array())) {
                if (!collect_from_items(item, s.from_items, a)) return std::nullopt;
            }
        }
        if (!s.system_columns.empty()) {
            if (!s.from_items.empty()) {
                refuse(a, "0A000",
                       "cannot audit this statement: its RETURNING clause uses system columns "
                       "together with other FROM/USING items");
                return std::nullopt;
            }
            expand_stars(*ret, s);
        }
        if (!type_whole_row_refs(*ret, s, a)) return std::nullopt;
        if (!plan_returning_check(*ret, s, a)) return std::nullopt;
    }
    return s;
}

}  // namespace pgrev::audit
