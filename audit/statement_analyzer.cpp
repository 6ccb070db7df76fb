#include "audit/statement_analyzer.h"

#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"

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

// Offsets of the `*` items of a RETURNING list (not `t.*`).
std::vector<std::size_t> bare_stars(const Json& returning) {
    std::vector<std::size_t> stars;
    for (const auto& item : returning) {
        const Json& val = node_fields(item).value("val", Json::object());
        if (node_kind(val) != "ColumnRef") continue;
        const Json& col_fields = node_fields(val).value("fields", Json::array());
        if (col_fields.size() == 1 && node_kind(col_fields[0]) == "A_Star") {
            stars.push_back(location_of(node_fields(val)));
        }
    }
    return stars;
}

}  // namespace

std::string StatementAnalyzer::table_name(const TableMatch& m) const {
    if (m.kind == TableMatch::Kind::Child) {
        std::string name =
            m.child->schema.empty() ? m.child->name : m.child->schema + "." + m.child->name;
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
        return "revision table " + m.configured->schema + "." +
               config::rev_name(m.configured->name);
    }
    return "audited table " + qualified(*m.configured);
}

std::string StatementAnalyzer::qualified(const config::AuditedTable& t) const {
    return t.schema + "." + t.name;
}

void StatementAnalyzer::refuse(StatementAnalysis& a, std::string_view sqlstate,
                               const std::string& message) {
    if (a.refused) return;  // the first reason is the one reported
    a.refused = true;
    a.sqlstate = std::string(sqlstate);
    a.message = protocol::pgrev_message(message);
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
    StatementNode n{node, node_kind(node), node_fields(node), begin, end};
    check_server_side_code(node, a);
    if (is_dml(n.kind) || n.kind == "SelectStmt") {
        analyze_query(n, a);
        return;
    }
    // Links between tables first: of several reasons to refuse, the first is reported.
    check_links(n.kind, n.fields, a);
    if (KindAnalyzer analyze = analyzer_of(n.kind)) {
        (this->*analyze)(n, a);
    } else {
        refuse_hidden_writes(n, a);
    }
}

void StatementAnalyzer::analyze_query(const StatementNode& n, StatementAnalysis& a) {
    analyze_ctes(n.fields, a);
    if (is_dml(n.kind)) {
        check_target_is_not_rev(n.kind, n.fields, a);
        analyze_dml(n.kind, n.fields, n.end, a);
    }
    // Everything that writes an audited table must be a site the rewrite handles: a DML
    // in a sub-select's WITH, say, is an error in PostgreSQL anyway, and refused here.
    int handled = static_cast<int>(a.in_ctes.size()) + (a.main ? 1 : 0);
    HiddenWrite first;
    if (!a.refused && a.unknown_tables.empty() && count_audited_writes(n.node, &first) != handled) {
        refuse(a, first.sqlstate(),
               "cannot audit this statement: it changes " + first.table +
                   " in a place pgrev cannot rewrite (only the statement itself and its "
                   "top-level WITH can)");
    }
}

// Anything else that writes is refused: a write inside a statement pgrev does not rewrite
// would have no revision.
void StatementAnalyzer::refuse_hidden_writes(const StatementNode& n, StatementAnalysis& a) {
    HiddenWrite first;
    if (count_audited_writes(n.node, &first) > 0) {
        refuse(a, first.sqlstate(),
               "cannot audit this statement: it changes " + first.table +
                   " in a place pgrev cannot rewrite");
    }
}

void StatementAnalyzer::check_target_is_not_rev(std::string_view kind, const Json& fields,
                                                StatementAnalysis& a) {
    check_write_through_ancestor(kind, fields, a);
    RelationName rel = relation_name(fields.at("relation"));
    TableMatch m = match(rel.schema, rel.name);
    if (forges_history(m, kind, fields)) {
        refuse_forged_history(m, "INSERT", a);
        return;
    }
    if (!changes_history(kind, fields)) return;
    refuse_history_change(m,
                          verb_of(kind) == TagVerb::Insert ? "INSERT ... ON CONFLICT DO UPDATE"
                                                           : verb_name(verb_of(kind)),
                          a);
}

bool StatementAnalyzer::refuse_history_change(const TableMatch& m, std::string_view what,
                                              StatementAnalysis& a) {
    if (m.kind != TableMatch::Kind::RevTable || policy_.allow_rev_table_changes) return false;
    refuse(a, sqlstate::kInsufficientPrivilege,
           fmt::format("{} of revision table {}.{} is refused: revision history is append-only",
                       what, m.configured->schema, config::rev_name(m.configured->name)));
    return true;
}

std::string_view StatementAnalyzer::HiddenWrite::sqlstate() const {
    return history ? sqlstate::kInsufficientPrivilege : sqlstate::kFeatureNotSupported;
}

int StatementAnalyzer::count_audited_writes(const Json& node, HiddenWrite* first) const {
    int count = 0;
    for_each_node(node, [&](std::string_view kind, const Json& fields) {
        if (!is_dml(kind) && kind != "MergeStmt") return;
        auto rel_it = fields.find("relation");
        if (rel_it == fields.end()) return;
        RelationName rel = relation_name(*rel_it);
        TableMatch m = match(rel.schema, rel.name);
        bool audited = is_audited(m) || reaches_through_ancestor(m, kind, fields);
        bool history = (m.kind == TableMatch::Kind::RevTable && !policy_.allow_rev_table_changes &&
                        changes_history(kind, fields)) ||
                       forges_history(m, kind, fields);
        if (!audited && !history) return;
        if (count++ == 0 && first != nullptr) {
            *first = {table_name(m), !audited};
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
        if (!is_dml(node_kind(query))) continue;
        check_target_is_not_rev(node_kind(query), node_fields(query), a);
        auto site = cte_site(cte, a);
        if (!site) continue;
        if (node_fields(query).contains("withClause")) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   "cannot audit a change of an audited table in a WITH query that has a WITH "
                   "clause of its own");
            continue;
        }
        a.in_ctes.push_back(std::move(*site));
    }
}

std::optional<DmlSite> StatementAnalyzer::cte_site(const Json& cte, StatementAnalysis& a) {
    const Json& query = cte.at("ctequery");
    // The CTE's parentheses: the first "(" after AS at the CTE's own depth.
    std::size_t name_tok = token_at(tokens_, location_of(cte));
    if (name_tok >= tokens_.size()) return std::nullopt;
    int depth = tokens_[name_tok].depth;
    std::size_t i = name_tok;
    while (i < tokens_.size() && !(tokens_[i].depth == depth && tokens_[i].is_word(sql_, "as"))) {
        ++i;
    }
    std::size_t as_tok = i;
    while (i < tokens_.size() && tokens_[i].kind != TokenKind::OpenParen)
        ++i;
    std::size_t close = matching_paren(tokens_, i);
    if (close >= tokens_.size()) return std::nullopt;
    auto site = dml_site(node_kind(query), node_fields(query), tokens_[close].begin, a);
    if (!site) return std::nullopt;
    site->in_cte = true;
    site->cte_name = cte.value("ctename", "");
    site->cte_begin = tokens_[name_tok].begin;
    site->cte_as_end = tokens_[as_tok].end;
    site->cte_open_end = tokens_[i].end;
    site->cte_end = tokens_[close].end;
    return site;
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
    const AuditedTableInfo* table = audited_target(kind, match(rel.schema, rel.name), a);
    if (table == nullptr) return std::nullopt;
    DmlSite s;
    s.verb = verb_of(kind);
    s.table = table;
    s.ref = rel.alias.empty() ? rel.name : rel.alias;
    s.unqualified = rel.schema.empty();
    std::size_t t = verb_token(rel.location);
    if (t >= tokens_.size()) {
        refuse(a, sqlstate::kFeatureNotSupported,
               "cannot audit this statement: pgrev could not find its verb");
        return std::nullopt;
    }
    s.begin = tokens_[t].begin;
    s.end = last_token_end(s.begin, end);
    s.body_end = s.end;
    if (auto ret = fields.find("returningList"); ret != fields.end() && !ret->empty()) {
        if (!analyze_returning(fields, *ret, s, a)) return std::nullopt;
    }
    return s;
}

const AuditedTableInfo* StatementAnalyzer::audited_target(std::string_view kind,
                                                          const TableMatch& m,
                                                          StatementAnalysis& a) {
    if (m.kind == TableMatch::Kind::AuditedUnknown) {
        a.unknown_tables.push_back(qualified(*m.configured));
        return nullptr;
    }
    if (m.kind == TableMatch::Kind::Child) {
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} of {} is refused: pgrev audits it through {}, so write to that "
                           "table instead",
                           verb_name(verb_of(kind)), table_name(m), m.child->parent));
        return nullptr;
    }
    if (m.kind != TableMatch::Kind::Audited) return nullptr;
    if (!m.table->unusable.empty()) {
        refuse(a, sqlstate::kObjectNotInPrerequisiteState,
               fmt::format("cannot audit {}.{}: {}", m.table->schema, m.table->name,
                           m.table->unusable));
        return nullptr;
    }
    return m.table;
}

std::size_t StatementAnalyzer::verb_token(int location) const {
    // The verb is the last INSERT/UPDATE/DELETE word before the table's name; only INTO,
    // FROM and ONLY can stand between them.
    std::size_t t = token_at(tokens_, location);
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
        return tokens_.size();
    }
    return t;
}

bool StatementAnalyzer::analyze_returning(const Json& fields, const Json& returning, DmlSite& s,
                                          StatementAnalysis& a) {
    s.has_returning = true;
    std::size_t first = token_at(tokens_, location_of(node_fields(returning[0])));
    if (first == 0 || !tokens_[first - 1].is_word(sql_, "returning")) {
        refuse(a, sqlstate::kFeatureNotSupported,
               "cannot audit this statement: pgrev could not find RETURNING");
        return false;
    }
    s.returning_begin = tokens_[first].begin;
    s.body_end = last_token_end(s.begin, tokens_[first - 1].begin);
    if (!analyze_returning_columns(returning, s, a)) return false;
    s.bare_stars = bare_stars(returning);
    const char* from_key = s.verb == TagVerb::Update   ? "fromClause"
                           : s.verb == TagVerb::Delete ? "usingClause"
                                                       : nullptr;
    if (from_key != nullptr) {
        for (const auto& item : fields.value(from_key, Json::array())) {
            if (!collect_from_items(item, s.from_items, a)) return false;
        }
    }
    if (!s.system_columns.empty()) {
        if (!s.from_items.empty()) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   "cannot audit this statement: its RETURNING clause uses system columns "
                   "together with other FROM/USING items");
            return false;
        }
        expand_stars(returning, s);
    }
    return type_whole_row_refs(returning, s, a) && plan_returning_check(returning, s, a);
}

}  // namespace pgrev::audit
