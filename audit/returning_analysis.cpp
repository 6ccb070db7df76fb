// The part of the analysis that RETURNING needs when the DML has other FROM/USING items: how
// each item goes back through pgrev's CTE as one whole-row value and is unpacked under its own
// name and column names (the whole-row form of DESIGN.md §2).
#include <nlohmann/json.hpp>

#include <algorithm>

#include "audit/statement_analyzer.h"

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

bool StatementAnalyzer::returning_is_supported(const Json& returning, StatementAnalysis& a) {
    // pgrev evaluates RETURNING over the rows its CTE returned: they have no system columns,
    // and the target is not there under its schema-qualified name.
    static const char* const kSystemColumns[] = {"ctid", "xmin", "xmax",
                                                 "cmin", "cmax", "tableoid"};
    std::string problem;
    for_each_node(returning, [&](std::string_view kind, const Json& fields) {
        if (kind != "ColumnRef" || !problem.empty()) return;
        const Json& parts = fields.value("fields", Json::array());
        if (parts.size() >= 3) {
            problem = "a schema-qualified column reference";
            return;
        }
        std::string last = parts.empty() ? "" : node_fields(parts.back()).value("sval", "");
        for (const char* system : kSystemColumns) {
            if (last == system) problem = "the system column " + last;
        }
    });
    if (problem.empty()) return true;
    refuse(a, "0A000",
           "cannot audit this statement: its RETURNING clause uses " + problem +
               ", which pgrev cannot return from the revision it writes");
    return false;
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
            items.push_back({ref, "ROW(" + q + ".*)::" + type, q + column_aliases(f)});
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
    refuse(a, "0A000",
           "cannot audit this statement: RETURNING together with this kind of FROM/USING item "
           "(give every FROM item an alias and join with ON)");
    return false;
}

}  // namespace pgrev::audit
