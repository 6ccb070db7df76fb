// The part of the analysis that RETURNING needs when the DML has other FROM/USING items: how
// each item goes back through pgrev's CTE as one whole-row value and is unpacked under its own
// name and column names (the whole-row form of the rewrite: SiteWriter in rewriter.cpp).
#include <nlohmann/json.hpp>

#include <algorithm>

#include "audit/statement_analyzer.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

std::string alias_name(const Json& fields) {
    auto al = fields.find("alias");
    return al == fields.end() ? std::string() : al->value("aliasname", "");
}

// "("a", "b")" from an alias's column list, empty when it has none.
std::string column_aliases(const Json& fields) {
    auto al = fields.find("alias");
    if (al == fields.end()) return {};
    std::string out;
    for (const auto& c : al->value("colnames", Json::array())) {
        out += (out.empty() ? "(" : ", ") + quote_identifier(node_fields(c).value("sval", ""));
    }
    return out.empty() ? out : out + ")";
}

// Set-returning functions whose single output column PostgreSQL names after the alias.
bool is_scalar_srf(const Json& range_function) {
    const Json& functions = range_function.value("functions", Json::array());
    if (functions.size() != 1) return false;
    const Json& items = node_fields(functions[0]).value("items", Json::array());
    if (items.empty() || node_kind(items[0]) != "FuncCall") return false;
    const Json& call = node_fields(items[0]);
    const Json& name = call.value("funcname", Json::array());
    if (name.empty()) return false;
    std::string fn = node_fields(name.back()).value("sval", "");
    std::size_t args = call.value("args", Json::array()).size();
    return fn == "generate_series" || fn == "generate_subscripts" || (fn == "unnest" && args == 1);
}

}  // namespace

bool StatementAnalyzer::analyze_returning_columns(const Json& returning, DmlSite& s,
                                                  StatementAnalysis& a) {
    // pgrev evaluates RETURNING over the rows its CTE returned. Those have no system columns:
    // the ones RETURNING uses are returned by the DML as ordinary columns of the same names
    // (no table column can have them), so the references need no change. The target is not
    // there under its schema-qualified name, though.
    static const char* const kSystemColumns[] = {"ctid", "xmin", "xmax",
                                                 "cmin", "cmax", "tableoid"};
    // U&"name" UESCAPE '!' spreads one name over three tokens; pgrev's edits assume one.
    for (std::size_t t = token_at(tokens_, s.returning_begin);
         t < tokens_.size() && tokens_[t].begin < s.end; ++t) {
        if (tokens_[t].is_word(sql_, "uescape")) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   "cannot audit this statement: its RETURNING clause uses UESCAPE; write the "
                   "names there with the default escape character");
            return false;
        }
    }
    bool qualified = false;
    for_each_node(returning, [&](std::string_view kind, const Json& fields) {
        if (kind != "ColumnRef") return;
        const Json& parts = fields.value("fields", Json::array());
        if (parts.size() >= 3) qualified = true;
        if (parts.size() >= 3 || parts.empty()) return;
        std::string last = node_fields(parts.back()).value("sval", "");
        if (parts.size() == 2 && node_fields(parts[0]).value("sval", "") != s.ref) return;
        for (const char* system : kSystemColumns) {
            if (last != system) continue;
            if (std::find(s.system_columns.begin(), s.system_columns.end(), last) ==
                s.system_columns.end()) {
                s.system_columns.push_back(last);
            }
        }
    });
    if (qualified) {
        refuse(a, sqlstate::kFeatureNotSupported,
               "cannot audit this statement: its RETURNING clause uses a schema-qualified "
               "column reference; name the columns through the table's name or alias");
        return false;
    }
    return true;
}

void StatementAnalyzer::expand_stars(const Json& returning, DmlSite& s) const {
    // With system columns the returned rows have pgrev's extra columns: `*` and `ref.*` list
    // the table's own columns instead.
    std::string all;
    for (const auto& c : s.table->columns) {
        all += (all.empty() ? "" : ", ") + quote_identifier(s.ref) + "." + quote_identifier(c);
    }
    for_each_node(returning, [&](std::string_view kind, const Json& fields) {
        if (kind != "ColumnRef") return;
        const Json& parts = fields.value("fields", Json::array());
        if (parts.empty() || node_kind(parts.back()) != "A_Star") return;
        if (parts.size() == 2 && node_fields(parts[0]).value("sval", "") != s.ref) return;
        std::size_t t = token_at(tokens_, location_of(fields));
        std::size_t star = t + 2 * (parts.size() - 1);
        if (star >= tokens_.size()) return;
        s.returning_edits.push_back({tokens_[t].begin, tokens_[star].end, all});
    });
}

bool StatementAnalyzer::type_whole_row_refs(const Json& returning, DmlSite& s,
                                            StatementAnalysis& a) {
    // A bare table name in RETURNING is the whole row, of the table's composite type. Over
    // pgrev's CTE the same name is a row of type record: cast it back, keeping its name.
    std::vector<std::pair<std::string, std::string>> types;  // ref -> type
    const auto& columns = s.table->columns;
    if (std::find(columns.begin(), columns.end(), s.ref) == columns.end()) {
        types.emplace_back(
            s.ref, quote_identifier(s.table->schema) + "." + quote_identifier(s.table->name));
    }
    for (const auto& item : s.from_items) {
        if (!item.row_type.empty()) types.emplace_back(item.ref, item.row_type);
    }
    bool whole_row_used = false;
    for_each_node(returning, [&](std::string_view kind, const Json& fields) {
        if (kind != "ColumnRef") return;
        const Json& parts = fields.value("fields", Json::array());
        if (parts.size() != 1 || node_kind(parts[0]) != "String") return;
        std::string name = node_fields(parts[0]).value("sval", "");
        for (const auto& [ref, type] : types) {
            if (name != ref) continue;
            std::size_t t = token_at(tokens_, location_of(fields));
            if (t >= tokens_.size()) return;
            s.returning_edits.push_back(
                {tokens_[t].begin, tokens_[t].end, quote_identifier(ref) + "::" + type});
            whole_row_used = true;
            return;
        }
    });
    if (whole_row_used && !s.system_columns.empty()) {
        refuse(a, sqlstate::kFeatureNotSupported,
               "cannot audit this statement: its RETURNING clause uses a whole-row value "
               "together with system columns");
        return false;
    }
    return true;
}

bool StatementAnalyzer::plan_returning_check(const Json& returning, DmlSite& s,
                                             StatementAnalysis& a) {
    // pgrev evaluates the user's RETURNING list as a SELECT over the returned rows, where
    // aggregates, window and set-returning functions are allowed; PostgreSQL refuses them in
    // RETURNING. Which call is which is catalog knowledge (overloads, user-defined aggregates),
    // so the server decides: the DML's own RETURNING gets the same expressions inside
    // `CASE WHEN false THEN ROW(...) END`, which parse analysis checks where the user wrote
    // them (same errors, positions map back) and the planner folds to NULL, unevaluated.
    s.whole_row = !s.from_items.empty();
    bool calls = false;
    bool shows_row = false;  // `*`, `t.*` or the whole row `t`: they would show the check
    const auto& columns = s.table->columns;
    bool ref_is_column = std::find(columns.begin(), columns.end(), s.ref) != columns.end();
    bool star_or_row = false;  // anywhere in the list: for returning_names_columns
    for_each_node(returning, [&](std::string_view kind, const Json& fields) {
        if (kind == "FuncCall") calls = true;
        if (kind != "ColumnRef") return;
        const Json& parts = fields.value("fields", Json::array());
        if (parts.empty()) return;
        bool star = node_kind(parts.back()) == "A_Star";
        std::string first = node_fields(parts[0]).value("sval", "");
        bool whole_target = parts.size() == 1 && first == s.ref && !ref_is_column;
        if (star || whole_target) star_or_row = true;
        if (parts.size() > 2) return;
        if ((star && (parts.size() == 1 || first == s.ref)) || whole_target) shows_row = true;
    });
    s.returning_names_columns = s.from_items.empty() && !star_or_row;
    if (!calls) return true;
    // One item per top-level comma of the list (not inside parentheses or ARRAY[...]
    // brackets); an alias (one token, after AS or bare) is left out, and so is a bare `*`,
    // which cannot hold a call.
    std::size_t t = token_at(tokens_, s.returning_begin);
    int depth = t < tokens_.size() ? tokens_[t].depth : 0;
    int brackets = 0;
    std::size_t item = 0;
    for (; t < tokens_.size() && tokens_[t].begin < s.end; ++t, ++item) {
        std::size_t first = t;
        std::size_t last = t;
        while (t < tokens_.size() && tokens_[t].begin < s.end) {
            const Token& tok = tokens_[t];
            if (tok.kind == TokenKind::Other && sql_[tok.begin] == '[') ++brackets;
            if (tok.kind == TokenKind::Other && sql_[tok.begin] == ']') --brackets;
            if (tok.kind == TokenKind::Comma && tok.depth == depth && brackets == 0) break;
            last = t++;
        }
        if (item >= returning.size()) {
            item = returning.size() + 1;  // more items than the parser saw
            break;
        }
        const Json& target = node_fields(returning[item]);
        const Json& val = target.value("val", Json::object());
        const Json& parts = node_fields(val).value("fields", Json::array());
        if (node_kind(val) == "ColumnRef" && parts.size() == 1 && node_kind(parts[0]) == "A_Star") {
            continue;
        }
        if (!target.value("name", "").empty() && last > first) {
            --last;
            if (last > first && tokens_[last].is_word(sql_, "as")) --last;
        }
        s.returning_checks.push_back({tokens_[first].begin, tokens_[last].end});
    }
    if (item != returning.size()) {
        refuse(a, sqlstate::kFeatureNotSupported,
               "cannot audit this statement: pgrev could not split its RETURNING list");
        return false;
    }
    if (shows_row && s.system_columns.empty()) s.whole_row = true;
    return true;
}

bool StatementAnalyzer::collect_from_items(const Json& item, std::vector<DmlSite::FromItem>& items,
                                           StatementAnalysis& a) {
    std::string_view kind = node_kind(item);
    const Json& f = node_fields(item);
    if (kind == "RangeVar") {
        RelationName rel = relation_name(f);
        std::string ref = rel.alias.empty() ? rel.name : rel.alias;
        std::string q = quote_identifier(ref);
        bool is_cte = rel.schema.empty() &&
                      std::find(cte_names_.begin(), cte_names_.end(), rel.name) != cte_names_.end();
        if (is_cte) {
            // A CTE's whole-row reference keeps its column names through pgrev's CTE.
            items.push_back({ref, q, q + column_aliases(f)});
        } else {
            // A table's row keeps them only when cast to the table's type.
            std::string type = (rel.schema.empty() ? "" : quote_identifier(rel.schema) + ".") +
                               quote_identifier(rel.name);
            std::string names = column_aliases(f);
            items.push_back({ref, "ROW(" + q + ".*)::" + type, q + names,
                             names.empty() ? type : std::string()});
        }
        return true;
    }
    std::string alias = alias_name(f);
    if (!alias.empty() && kind == "RangeSubselect") {
        std::string q = quote_identifier(alias);
        items.push_back({alias, q, q + column_aliases(f)});
        return true;
    }
    if (!alias.empty() && kind == "RangeFunction") {
        std::string q = quote_identifier(alias);
        std::string names = column_aliases(f);
        if (names.empty() && is_scalar_srf(f)) names = "(" + q + ")";
        if (names.empty()) {
            // A function returning a composite type keeps its names as a whole-row value.
            items.push_back({alias, q, q});
        } else {
            items.push_back({alias, "ROW(" + q + ".*)", q + names});
        }
        return true;
    }
    if (kind == "JoinExpr" && alias_name(f).empty() && !f.contains("usingClause") &&
        !f.value("isNatural", false)) {
        return collect_from_items(f.at("larg"), items, a) &&
               collect_from_items(f.at("rarg"), items, a);
    }
    refuse(a, sqlstate::kFeatureNotSupported,
           "cannot audit this statement: RETURNING together with this kind of FROM/USING item "
           "(give every FROM item an alias and join with ON)");
    return false;
}

}  // namespace pgrev::audit
