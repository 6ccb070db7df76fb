// Code the server runs on a client's behalf (docs/ARCHITECTURE.md, "Refusals"): a DO block runs
// now, a function, procedure or rule later, and what it writes never passes through pgrev. So
// one whose code names an audited or revision table (code_names.h; for a rule, whose actions
// write one) is refused, unless audit.allow or audit.trusted_routines lets it through. pgrev
// cannot tell a PL/pgSQL body's reads from its writes: any name counts (README).
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/code_names.h"
#include "audit/name_filter.h"
#include "audit/statement_analyzer.h"
#include "config/text.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

using Kind = TableMatch::Kind;

// Languages whose "..." are identifiers, as in SQL; in the others they may be strings of code.
bool reads_like_sql(const std::string& language) {
    return language == "plpgsql" || language == "sql";
}

// The String value of a DefElem's argument; empty when it has none.
std::string def_string(const Json& def) {
    auto arg = def.find("arg");
    if (arg == def.end()) return {};
    return node_fields(*arg).value("sval", "");
}

}  // namespace

bool StatementAnalyzer::is_code_object(std::string_view type) {
    return type == "OBJECT_FUNCTION" || type == "OBJECT_PROCEDURE" || type == "OBJECT_ROUTINE" ||
           type == "OBJECT_TRIGGER" || type == "OBJECT_RULE";
}

std::string StatementAnalyzer::table_named_in_code(std::string_view code,
                                                   bool quoted_are_code) const {
    // The cheap question first: most bodies hold none of the names. A backslash or "U&" can
    // spell one inside a string without its letters.
    bool may_name = NameFilter::contains_ci(code, "u&") || code.find('\\') != code.npos;
    auto holds = [&](const std::string& name) {
        return NameFilter::contains_ci(code, config::lower_ascii(name));
    };
    for (const auto& t : catalog_.configured())
        may_name = may_name || holds(t.name);
    for (const auto& c : catalog_.children())
        may_name = may_name || holds(c.name);
    for (const auto& anc : catalog_.ancestors())
        may_name = may_name || holds(anc.name);
    for (const auto& c : created_children_)
        may_name = may_name || holds(c.name);
    if (!may_name) return {};
    std::string found;
    CodeScan scan =
        scan_code_names(code, quoted_are_code, [&](std::string_view schema, std::string_view name) {
            TableMatch m = match(schema, name);
            if (m.kind == Kind::None) return false;
            found = table_name(m);
            return true;
        });
    if (scan == CodeScan::Named) return found;
    if (scan == CodeScan::None) return {};
    for (const auto& t : catalog_.configured()) {
        if (holds(t.name)) found += (found.empty() ? "" : ", ") + t.qualified_name();
    }
    return "text pgrev cannot decode (a malformed Unicode escape, or strings nested too "
           "deeply), which may name an audited table" +
           (found.empty() ? std::string() : " (it mentions " + found + ")");
}

std::string StatementAnalyzer::table_named_in_tree(const Json& body) const {
    std::string found;
    for_each_node(body, [&](std::string_view kind, const Json& fields) {
        if (!found.empty()) return;
        // A DML's target is its bare fields, not a RangeVar node.
        bool dml = kind == "InsertStmt" || kind == "UpdateStmt" || kind == "DeleteStmt" ||
                   kind == "MergeStmt";
        if (kind == "RangeVar" || (dml && fields.contains("relation"))) {
            RelationName rel = relation_name(kind == "RangeVar" ? fields : fields.at("relation"));
            TableMatch m = match(rel.schema, rel.name);
            if (m.kind != Kind::None) found = table_name(m);
        } else if (kind == "A_Const" && fields.contains("sval")) {
            // A string the body may hand to a function that runs it as SQL.
            found = table_named_in_code(fields.at("sval").value("sval", ""), false);
        }
    });
    return found;
}

void StatementAnalyzer::analyze_do(const StatementNode& n, StatementAnalysis& a) {
    a.changes_catalog = true;  // it may change an audited table's definition
    if (policy_.allow_do_blocks) return;
    std::string language = "plpgsql";
    std::string body;
    for (const auto& arg : n.fields.value("args", Json::array())) {
        const Json& def = node_fields(arg);
        if (def.value("defname", "") == "as") body = def_string(def);
        if (def.value("defname", "") == "language") language = def_string(def);
    }
    std::string table = table_named_in_code(body, !reads_like_sql(language));
    if (table.empty()) return;
    refuse(a, sqlstate::kFeatureNotSupported,
           fmt::format("DO block is refused: its code names {}, and its writes would have no "
                       "revisions (write through pgrev's statements, or allow it with "
                       "audit.allow: [do_blocks])",
                       table));
}

void StatementAnalyzer::analyze_create_routine(const StatementNode& n, StatementAnalysis& a) {
    a.changes_catalog = true;  // pgrev reads the routines that name audited tables again
    if (policy_.allow_routine_definitions) return;
    const Json& names = n.fields.value("funcname", Json::array());
    if (names.empty()) return;
    // An unqualified name is taken to be public's, for audit.trusted_routines (README).
    std::string name = node_fields(names.back()).value("sval", "");
    std::string schema =
        names.size() >= 2 ? node_fields(names[names.size() - 2]).value("sval", "") : "public";
    if (policy_.is_trusted(schema, name)) return;
    std::string language = n.fields.contains("sql_body") ? "sql" : "";
    for (const auto& opt : n.fields.value("options", Json::array())) {
        const Json& def = node_fields(opt);
        if (def.value("defname", "") == "language") language = def_string(def);
    }
    std::string table;
    for (const auto& opt : n.fields.value("options", Json::array())) {
        const Json& def = node_fields(opt);
        if (def.value("defname", "") != "as" || !def.contains("arg")) continue;
        // AS 'body', or AS 'object file', 'link symbol'.
        for (const auto& item : node_fields(def.at("arg")).value("items", Json::array())) {
            if (table.empty()) {
                table = table_named_in_code(node_fields(item).value("sval", ""),
                                            !reads_like_sql(language));
            }
        }
    }
    if (auto body = n.fields.find("sql_body"); table.empty() && body != n.fields.end()) {
        table = table_named_in_tree(*body);
    }
    if (table.empty()) return;
    bool procedure = n.fields.value("is_procedure", false);
    refuse(a, sqlstate::kFeatureNotSupported,
           fmt::format("CREATE {} {}.{} is refused: its code names {}, and its writes would "
                       "have no revisions (write through pgrev's statements, list it in "
                       "audit.trusted_routines, or allow it with audit.allow: "
                       "[routine_definitions])",
                       procedure ? "PROCEDURE" : "FUNCTION", schema, name, table));
}

void StatementAnalyzer::analyze_rule(const StatementNode& n, StatementAnalysis& a) {
    a.changes_catalog = true;  // pgrev reads the rules that write audited tables again
    if (policy_.allow_rules) return;
    std::string table;
    for_each_node(n.fields.value("actions", Json::array()),
                  [&](std::string_view kind, const Json& fields) {
                      bool writes = kind == "InsertStmt" || kind == "UpdateStmt" ||
                                    kind == "DeleteStmt" || kind == "MergeStmt";
                      if (!table.empty() || !writes || !fields.contains("relation")) return;
                      RelationName rel = relation_name(fields.at("relation"));
                      TableMatch m = match(rel.schema, rel.name);
                      if (m.kind != Kind::None) table = table_name(m);
                  });
    if (table.empty()) return;
    RelationName on = relation_name(n.fields.at("relation"));
    refuse(a, sqlstate::kFeatureNotSupported,
           fmt::format("CREATE RULE {} on {} is refused: its action writes {}, and the rule's "
                       "writes would have no revisions (allow it with audit.allow: [rules])",
                       n.fields.value("rulename", ""), dotted(on), table));
}

void StatementAnalyzer::analyze_code_change(const StatementNode&, StatementAnalysis& a) {
    // CREATE TRIGGER, ALTER FUNCTION: pgrev reads its flagged triggers and routines again.
    a.changes_catalog = true;
}

}  // namespace pgrev::audit
