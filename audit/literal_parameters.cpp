#include "audit/literal_parameters.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "audit/parse_tree.h"

namespace pgrev::audit {

namespace {

// What may become, or is, a parameter: a number constant, or a parameter reference.
bool is_site(std::string_view kind, const Json& fields) {
    return (kind == "A_Const" && (fields.contains("ival") || fields.contains("fval"))) ||
           kind == "ParamRef";
}

struct Sites {
    // Location of each number constant and parameter -> whether a parameter may stand there.
    std::unordered_map<std::size_t, bool> fine;
    // Locations of the sites that are SET values (coerced to the column's type).
    std::unordered_set<std::size_t> set_values;
    // Of those, the ones assigned to a column of an audited table: its type.
    std::unordered_map<std::size_t, ColumnType> set_columns;
    // Location of each string constant that is a SET value of a whole column of an audited
    // table of a type that takes strings as they are -> that type.
    std::unordered_map<std::size_t, ColumnType> string_columns;
};

constexpr std::uint32_t kTextOid = 25;
constexpr std::uint32_t kVarcharOid = 1043;
constexpr std::uint32_t kBpcharOid = 1042;

bool takes_string_parameters(ColumnType column) {
    return column.oid == kTextOid || column.oid == kVarcharOid || column.oid == kBpcharOid;
}

// The location of `item` when it is a string constant ({"A_Const": {"sval": ...}}).
std::optional<std::size_t> string_at(const Json& item) {
    if (!item.is_object() || item.size() != 1) return std::nullopt;
    auto it = item.find("A_Const");
    if (it == item.end() || !it->contains("sval")) return std::nullopt;
    return static_cast<std::size_t>(location_of(*it));
}

// A column of a type some number parameters may be assigned to: one whose type, without its
// typmod, takes a 0.
bool takes_number_parameters(ColumnType column) {
    return assignment_cannot_fail("0", false, kInt4Oid, {column.oid, -1});
}

// The audited table an UPDATE's fields name; null when none or unknown.
const AuditedTableInfo* updated_table(const Json& fields, const CatalogSnapshot* catalog) {
    if (catalog == nullptr) return nullptr;
    auto relation = fields.find("relation");
    if (relation == fields.end() || !relation->is_object()) return nullptr;
    TableMatch match =
        catalog->match(relation->value("schemaname", ""), relation->value("relname", ""));
    return match.kind == TableMatch::Kind::Audited ? match.table : nullptr;
}

// Marks every number constant under `node` (itself included) as one that stays text.
void keep_all_under(const Json& node, std::unordered_map<std::size_t, bool>& constants) {
    for_each_node(node, [&](std::string_view kind, const Json& fields) {
        if (is_site(kind, fields)) {
            constants[static_cast<std::size_t>(location_of(fields))] = false;
        }
    });
}

// The location of `item` (a list item or a field) when it is a site itself.
std::optional<std::size_t> site_at(const Json& item) {
    if (!item.is_object() || item.size() != 1) return std::nullopt;
    auto it = item.begin();
    if (!is_site(it.key(), it.value())) return std::nullopt;
    return static_cast<std::size_t>(location_of(it.value()));
}

// Marks `item` as a site that stays as it is, when it is one.
void keep_if_constant(const Json& item, std::unordered_map<std::size_t, bool>& constants) {
    if (auto at = site_at(item)) constants[*at] = false;
}

// Node kinds that compute a value from their operands: PostgreSQL folds one whose operands
// are all constants while planning.
bool is_operation(std::string_view kind) {
    static constexpr std::string_view kinds[] = {
        "A_Expr",      "FuncCall",      "TypeCast",      "BoolExpr",   "CaseExpr",
        "A_ArrayExpr", "RowExpr",       "CoalesceExpr",  "MinMaxExpr", "NullTest",
        "BooleanTest", "A_Indirection", "CollateClause", "XmlExpr",    "SubLink"};
    return std::find(std::begin(kinds), std::end(kinds), kind) != std::end(kinds);
}

bool mentions_a_column(const Json& node) {
    bool found = false;
    for_each_node(
        node, [&](std::string_view kind, const Json&) { found = found || kind == "ColumnRef"; });
    return found;
}

// Where a parameter may stand (see the header). libpg_query
// names a node's kind only where its field may hold any node ({"SortBy": {...}}); typed
// fields hold the fields alone (TypeCast's "typeName", a set operation's "larg"), so the
// walk goes by field names.
Sites find_sites(const Json& tree, const CatalogSnapshot* catalog) {
    Sites sites;
    std::unordered_map<std::size_t, bool>& constants = sites.fine;
    std::vector<const Json*> keep_all;
    // (key, value, whether the value is the fields of an UPDATE or an ON CONFLICT DO UPDATE,
    // the audited table such an UPDATE writes)
    struct Item {
        const std::string* key;
        const Json* value;
        bool assignment;
        const AuditedTableInfo* table;
    };
    std::vector<Item> pending{{nullptr, &tree, false, nullptr}};
    while (!pending.empty()) {
        auto [key, value, parent_is_assignment, parent_table] = pending.back();
        pending.pop_back();
        if (key != nullptr) {
            if (is_site(*key, *value)) {
                constants.emplace(static_cast<std::size_t>(location_of(*value)), true);
            } else if (*key == "typmods" || *key == "infer" || *key == "cycle_clause" ||
                       (is_operation(*key) && !mentions_a_column(*value))) {
                // Type modifiers; ON CONFLICT's inference; a CTE's CYCLE marks. And an
                // operation on constants only: folded at planning, where an error (1/0, an
                // overflow, a failed cast) is raised whether or not a row needs it, while a
                // generic plan of parameters raises it only for the rows that do.
                keep_all.push_back(value);
            } else if (*key == "targetList" && value->is_array() && parent_is_assignment) {
                // SET col = <literal>: coerced to the column's type (int4 to smallint,
                // numeric to numeric(5,2)), which may fail like a cast (see above).
                for (const Json& item : *value) {
                    auto rt = item.find("ResTarget");
                    if (rt == item.end()) continue;
                    auto val = rt->find("val");
                    if (val == rt->end()) continue;
                    // A whole column (not `col[1]` or `col.field`) of the audited table.
                    const ColumnType* type = parent_table == nullptr || rt->contains("indirection")
                                                 ? nullptr
                                                 : parent_table->column_type(rt->value("name", ""));
                    if (auto text_at = string_at(*val)) {
                        if (type != nullptr && takes_string_parameters(*type)) {
                            sites.string_columns.emplace(*text_at, *type);
                        }
                    } else if (auto at = site_at(*val)) {
                        sites.set_values.insert(*at);
                        if (type != nullptr && takes_number_parameters(*type)) {
                            sites.set_columns.emplace(*at, *type);
                        }
                    }
                }
            } else if (*key == "SortBy") {
                if (auto node = value->find("node"); node != value->end()) {
                    keep_if_constant(*node, constants);
                }
            } else if (*key == "groupClause" || *key == "distinctClause" ||
                       (*key == "content" && value->is_array())) {
                // Ordinals: GROUP BY, DISTINCT ON, and the lists of ROLLUP, CUBE and
                // GROUPING SETS (a GroupingSet's "content").
                if (value->is_array()) {
                    for (const Json& item : *value)
                        keep_if_constant(item, constants);
                }
            }
        }
        if (value->is_array()) {
            for (const auto& item : *value)
                pending.push_back({nullptr, &item, false, nullptr});
        } else if (value->is_object()) {
            bool update = key != nullptr && *key == "UpdateStmt";
            bool assignment = update || (key != nullptr && *key == "onConflictClause");
            const AuditedTableInfo* table = update ? updated_table(*value, catalog) : nullptr;
            for (auto it = value->begin(); it != value->end(); ++it)
                pending.push_back({&it.key(), &it.value(), assignment, table});
        }
    }
    // After the walk: a constant seen later must not turn a kept one back.
    for (const Json* node : keep_all)
        keep_all_under(*node, constants);
    return sites;
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Integer digits (leading zeros allowed) at most `limit`, which is 2^31 - 1 or the like.
bool at_most(std::string_view digits, std::string_view limit) {
    digits.remove_prefix(std::min(digits.find_first_not_of('0'), digits.size()));
    if (digits.size() != limit.size()) return digits.size() < limit.size();
    return digits <= limit;
}

}  // namespace

std::vector<ParameterSite> parameter_uses(std::string_view sql,
                                          const std::vector<std::size_t>& offsets,
                                          const CatalogSnapshot* catalog) {
    std::vector<ParameterSite> uses(offsets.size());
    ParseResult parsed = parse_sql(sql);
    if (!parsed.ok || parsed.statements.size() != 1) return uses;
    Sites sites = find_sites(*parsed.tree, catalog);
    // A number literal as a SET value stays text, unless the column's type is known.
    for (std::size_t at : sites.set_values) {
        if (!sites.set_columns.contains(at)) sites.fine[at] = false;
    }
    const std::unordered_map<std::size_t, bool>& constants = sites.fine;
    auto column_at = [&](std::size_t at) {
        auto it = sites.set_columns.find(at);
        return it == sites.set_columns.end() ? ColumnType{} : it->second;
    };
    for (std::size_t i = 0; i < offsets.size(); ++i) {
        std::size_t at = offsets[i];
        if (at < sql.size() && sql[at] == '\'') {
            if (auto it = sites.string_columns.find(at); it != sites.string_columns.end()) {
                uses[i] = {ParameterUse::String, it->second};
            }
            continue;
        }
        if (auto it = constants.find(at); it != constants.end()) {
            if (it->second) uses[i] = {ParameterUse::Value, column_at(at)};
            continue;
        }
        // The grammar folds a unary minus (or plus) into the constant, which then begins at
        // the sign. Only a sign right before the number, or before spaces before it: a
        // comment in between leaves the literal text (rare, and not worth reading).
        std::size_t sign = at;
        while (sign > 0 && is_space(sql[sign - 1]))
            --sign;
        if (sign == 0 || (sql[sign - 1] != '-' && sql[sign - 1] != '+')) continue;
        --sign;
        auto it = constants.find(sign);
        if (it == constants.end() || !it->second) continue;
        uses[i] = {sql[sign] == '-' ? ParameterUse::Negated : ParameterUse::Value, column_at(sign)};
    }
    return uses;
}

std::uint32_t number_parameter_type(std::string_view token, bool negated) {
    if (token.empty()) return 0;
    if (token.find_first_of(".eE") != std::string_view::npos) {
        // numeric. Next to a column of another type it may be coerced (to float4 for a real
        // column), which a constant would be while planning and a parameter only for the
        // rows that need it: only values no such coercion can fail for, about 1e-30 to 1e30.
        if (token.find_first_of("eE") != std::string_view::npos) return 0;
        std::size_t point = token.find('.');
        std::string_view whole = token.substr(0, point);
        std::string_view fraction = token.substr(point + 1);
        whole.remove_prefix(std::min(whole.find_first_not_of('0'), whole.size()));
        constexpr std::size_t kMaxDigits = 30;
        if (whole.size() > kMaxDigits || fraction.size() > 1000) return 0;
        if (whole.empty()) {
            std::size_t first = fraction.find_first_not_of('0');
            if (first != std::string_view::npos && first >= kMaxDigits) return 0;
        }
        return kNumericOid;
    }
    if (token.find_first_not_of("0123456789") != std::string_view::npos) return 0;
    // The type of the literal and of the parameter a minus negates must be the same: they
    // differ at 2^31 (an int4 when negated) and 2^63 (an int8 when negated).
    std::uint32_t type = at_most(token, "2147483647")            ? kInt4Oid
                         : at_most(token, "9223372036854775807") ? kInt8Oid
                                                                 : kNumericOid;
    if (negated) {
        std::uint32_t negated_type = at_most(token, "2147483648")            ? kInt4Oid
                                     : at_most(token, "9223372036854775808") ? kInt8Oid
                                                                             : kNumericOid;
        if (negated_type != type) return 0;
    }
    // An integer too long for int8 is a numeric: bounded as a decimal is.
    if (type == kNumericOid && token.size() > 30) return 0;
    return type;
}

bool assignment_cannot_fail(std::string_view token, bool negated, std::uint32_t type,
                            ColumnType column) {
    bool integer = type == kInt4Oid || type == kInt8Oid;
    switch (column.oid) {
        case kInt2Oid:
            return type == kInt4Oid && at_most(token, negated ? "32768" : "32767");
        case kInt4Oid:
            return type == kInt4Oid;
        case kInt8Oid:
            return integer;
        case kFloat4Oid:
        case kFloat8Oid:
            // Integers convert; numeric parameters lie within about 1e-30 to 1e30.
            return integer || type == kNumericOid;
        case kNumericOid: {
            if (!integer && type != kNumericOid) return false;
            if (column.typmod < 0) return true;
            // numeric(p,s) takes values that round (to s decimals) below 10^(p-s). A value of
            // d integer digits rounds to at most d + 1 of them. Scales below 0 or above p
            // (PostgreSQL 15) are left to the server.
            constexpr std::int32_t kVarHeader = 4;
            std::int32_t packed = column.typmod - kVarHeader;
            std::int32_t precision = (packed >> 16) & 0xffff;
            std::int32_t scale = packed & 0x7ff;
            if (scale > precision) return false;
            std::string_view whole = token.substr(0, token.find('.'));
            whole.remove_prefix(std::min(whole.find_first_not_of('0'), whole.size()));
            return static_cast<std::int32_t>(whole.size()) + 1 <= precision - scale;
        }
        default:
            return false;
    }
}

bool parameters_plan_alike(std::string_view sql, const std::vector<std::uint32_t>& types) {
    ParseResult parsed = parse_sql(sql);
    if (!parsed.ok || parsed.statements.size() != 1) return false;
    Sites sites = find_sites(*parsed.tree, nullptr);
    bool alike = true;
    for_each_node(*parsed.tree, [&](std::string_view kind, const Json& fields) {
        if (kind != "ParamRef" || !alike) return;
        auto at = static_cast<std::size_t>(location_of(fields));
        auto it = sites.fine.find(at);
        if (it == sites.fine.end() || !it->second) {
            alike = false;
            return;
        }
        // A SET value of unspecified type takes the column's type: nothing to coerce.
        auto number = static_cast<std::size_t>(fields.value("number", 0));
        bool typed = number >= 1 && number <= types.size() && types[number - 1] != 0;
        if (typed && sites.set_values.contains(at)) alike = false;
    });
    return alike;
}

std::optional<std::string> string_assignment_value(std::string_view token, ColumnType column) {
    if (!takes_string_parameters(column)) return std::nullopt;
    if (token.size() < 2 || token.front() != '\'' || token.back() != '\'') return std::nullopt;
    std::string value;
    std::string_view body = token.substr(1, token.size() - 2);
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c == '\\') return std::nullopt;
        if (c == '\'') {
            // Inside one literal a quote is doubled; a lone one ends it (a continuation).
            if (i + 1 == body.size() || body[i + 1] != '\'') return std::nullopt;
            ++i;
        }
        value += c;
    }
    // varchar(n) and char(n): typmod n + 4; -1 without a length.
    constexpr int kVarHeader = 4;
    if (column.oid != kTextOid && column.typmod >= kVarHeader &&
        value.size() > static_cast<std::size_t>(column.typmod - kVarHeader)) {
        return std::nullopt;
    }
    return value;
}

bool parses_with_parameters(std::string_view sql, std::size_t count) {
    ParseResult parsed = parse_sql(sql);
    if (!parsed.ok || parsed.statements.size() != 1) return false;
    std::size_t references = 0;
    for_each_node(*parsed.tree, [&](std::string_view kind, const Json&) {
        if (kind == "ParamRef") ++references;
    });
    return references == count;
}

}  // namespace pgrev::audit
