// What a statement makes the server run that reaches audited tables without naming them
// (docs/ARCHITECTURE.md, "Refusals"): calls of routines whose source names one, writes to
// tables whose triggers or rules do, TRUNCATE ... CASCADE through a foreign key of one. The
// loader finds them (catalog_routines.cpp); their names are in the sessions' prefilter, so a
// statement naming one is parsed and comes here.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "audit/statement_analyzer.h"
#include "protocol/sqlstate.h"

namespace pgrev::audit {

namespace {

// Why calling `r` reaches an audited table.
std::string routine_reason(const FlaggedRoutine& r) {
    if (r.via.empty()) return "its source names " + r.reaches;
    return "it calls " + r.via + ", which reaches " + r.reaches;
}

// Schema and name of a FuncCall's funcname (or a trigger's), schema empty when unqualified.
std::pair<std::string, std::string> routine_name(const Json& funcname) {
    std::pair<std::string, std::string> out;
    if (!funcname.is_array() || funcname.empty()) return out;
    out.second = node_fields(funcname.back()).value("sval", "");
    if (funcname.size() >= 2)
        out.first = node_fields(funcname[funcname.size() - 2]).value("sval", "");
    return out;
}

bool is_write(std::string_view kind) {
    return kind == "InsertStmt" || kind == "UpdateStmt" || kind == "DeleteStmt" ||
           kind == "MergeStmt";
}

// Statements after which the routines, triggers and rules pgrev knows may differ.
bool changes_server_side_code(std::string_view kind, const Json& f) {
    if (kind == "CreateFunctionStmt" || kind == "AlterFunctionStmt" || kind == "CreateTrigStmt" ||
        kind == "RuleStmt" || kind == "CreateEventTrigStmt") {
        return true;
    }
    if (kind == "AlterTableStmt") {
        // ENABLE / DISABLE [ALWAYS | REPLICA] TRIGGER or RULE.
        for (const auto& cmd : f.value("cmds", Json::array())) {
            std::string sub = node_fields(cmd).value("subtype", "");
            if (sub.find("Trig") != std::string::npos || sub.find("Rule") != std::string::npos) {
                return true;
            }
        }
        return false;
    }
    const char* type_key = kind == "DropStmt"                ? "removeType"
                           : kind == "RenameStmt"            ? "renameType"
                           : kind == "AlterObjectSchemaStmt" ? "objectType"
                                                             : nullptr;
    if (type_key == nullptr) return false;
    std::string type = f.value(type_key, "");
    return type == "OBJECT_FUNCTION" || type == "OBJECT_PROCEDURE" || type == "OBJECT_ROUTINE" ||
           type == "OBJECT_TRIGGER" || type == "OBJECT_RULE";
}

}  // namespace

void StatementAnalyzer::check_server_side_code(const Json& node, StatementAnalysis& a) {
    std::string_view kind = node_kind(node);
    const Json& fields = node_fields(node);
    if (changes_server_side_code(kind, fields)) a.changes_catalog = true;
    const CatalogLinks& links = catalog_.links();
    if (links.routines.empty() && links.triggers.empty() && links.rules.empty() &&
        links.routine_users.empty() && links.truncate_reaches.empty()) {
        return;
    }
    // A routine's body does not run now: what it calls is looked at when it is called (a
    // routine that calls a flagged one is flagged too). Its parameters' defaults are.
    Json parameters;
    if (kind == "CreateFunctionStmt") parameters = fields.value("parameters", Json::array());
    for_each_node(kind == "CreateFunctionStmt" ? parameters : node,
                  [&](std::string_view k, const Json& f) {
                      if (k == "FuncCall") {
                          check_call(routine_name(f.value("funcname", Json::array())), a);
                      } else if (k == "CallStmt" && f.contains("funccall")) {
                          // A FuncCall of its own type, without the node around it.
                          const Json& call = f.at("funccall");
                          check_call(routine_name(call.value("funcname", Json::array())), a);
                      } else if (k == "ColumnRef") {
                          // t.f is f(t) when t has no column f.
                          const Json& items = f.value("fields", Json::array());
                          if (items.size() >= 2 && node_kind(items.back()) == "String") {
                              check_call({"", node_fields(items.back()).value("sval", "")}, a);
                          }
                      } else if ((is_write(k) || (k == "CopyStmt" && f.value("is_from", false))) &&
                                 f.contains("relation")) {
                          check_write_runs_code(k, relation_name(f.at("relation")), a);
                      } else if (k == "RangeVar") {
                          check_read_runs_code(relation_name(f), a);
                      } else if (k == "TruncateStmt") {
                          check_truncate_reach(f, a);
                      } else if (k == "CreateTrigStmt" || k == "CreateEventTrigStmt") {
                          check_trigger_function(f, a);
                      }
                  });
}

void StatementAnalyzer::check_call(const std::pair<std::string, std::string>& name,
                                   StatementAnalysis& a) {
    if (name.second.empty() || policy_.allow_routine_calls) return;
    // Matched by name, any overload; unqualified, any schema's (search_path decides which).
    for (const auto& r : catalog_.links().routines) {
        if (r.name != name.second || (!name.first.empty() && r.schema != name.first)) continue;
        if (policy_.is_trusted(r.schema, r.name)) continue;
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("call of routine {}.{} is refused: {}, and its writes would have no "
                           "revisions (list it in audit.trusted_routines if it writes nothing "
                           "there, or allow it with audit.allow: [routine_calls])",
                           r.schema, r.name, routine_reason(r)));
        return;
    }
}

void StatementAnalyzer::check_write_runs_code(std::string_view kind, const RelationName& rel,
                                              StatementAnalysis& a) {
    const char* what = kind == "InsertStmt"   ? "INSERT into"
                       : kind == "UpdateStmt" ? "UPDATE of"
                       : kind == "DeleteStmt" ? "DELETE from"
                       : kind == "MergeStmt"  ? "MERGE into"
                       : kind == "CopyStmt"   ? "COPY FROM into"
                                              : "TRUNCATE of";
    // TRUNCATE runs no defaults nor constraints.
    if (kind != "TruncateStmt") check_routine_users(rel, false, what, a);
    if (!policy_.allow_triggers) {
        for (const auto& t : catalog_.links().triggers) {
            if (!t.enabled || t.table != rel.name ||
                (!rel.schema.empty() && t.schema != rel.schema)) {
                continue;
            }
            if (policy_.is_trusted(t.function_schema, t.function)) continue;
            refuse(a, sqlstate::kFeatureNotSupported,
                   fmt::format("{} {}.{} is refused: its trigger {} runs {}.{}, which reaches "
                               "{}, and those writes would have no revisions (list the "
                               "function in audit.trusted_routines, or allow it with "
                               "audit.allow: [triggers])",
                               what, t.schema, t.table, t.trigger, t.function_schema, t.function,
                               t.reaches));
            return;
        }
    }
    if (!policy_.allow_rules) {
        if (const FlaggedRule* r = catalog_.flagged_rule(rel.schema, rel.name)) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   fmt::format("{} {}.{} is refused: its rule {} depends on {}, and the rule's "
                               "writes would have no revisions (allow it with audit.allow: "
                               "[rules])",
                               what, r->schema, r->table, r->rule, r->reaches));
        }
    }
}

void StatementAnalyzer::check_read_runs_code(const RelationName& rel, StatementAnalysis& a) {
    check_routine_users(rel, true, "use of", a);
}

void StatementAnalyzer::check_routine_users(const RelationName& rel, bool reading_only,
                                            std::string_view what, StatementAnalysis& a) {
    if (policy_.allow_routine_calls) return;
    for (const auto& u : catalog_.links().routine_users) {
        if (u.name != rel.name || (!rel.schema.empty() && u.schema != rel.schema)) continue;
        if ((reading_only && !u.on_read) || policy_.is_trusted(u.routine_schema, u.routine)) {
            continue;
        }
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("{} {}.{} is refused: its {} calls {}.{}, which reaches {}, and "
                           "those writes would have no revisions (list the routine in "
                           "audit.trusted_routines, or allow it with audit.allow: "
                           "[routine_calls])",
                           what, u.schema, u.name, u.what, u.routine_schema, u.routine, u.reaches));
        return;
    }
}

void StatementAnalyzer::check_truncate_reach(const Json& f, StatementAnalysis& a) {
    for (const auto& r : f.value("relations", Json::array())) {
        RelationName rel = relation_name(node_fields(r));
        check_write_runs_code("TruncateStmt", rel, a);
        if (f.value("behavior", "") != "DROP_CASCADE" || policy_.allow_truncate) continue;
        if (const TruncateReach* t = catalog_.truncate_reach(rel.schema, rel.name)) {
            refuse(a, sqlstate::kFeatureNotSupported,
                   fmt::format("TRUNCATE {}.{} CASCADE is refused: it also truncates audited "
                               "table {}, which references it by foreign key, and removes its "
                               "rows without revisions (use DELETE, or allow it with "
                               "audit.allow: [truncate])",
                               t->schema, t->name, t->audited));
        }
    }
}

void StatementAnalyzer::check_trigger_function(const Json& f, StatementAnalysis& a) {
    if (policy_.allow_triggers) return;
    auto [schema, name] = routine_name(f.value("funcname", Json::array()));
    for (const auto& r : catalog_.links().routines) {
        if (r.name != name || (!schema.empty() && r.schema != schema)) continue;
        if (policy_.is_trusted(r.schema, r.name)) continue;
        refuse(a, sqlstate::kFeatureNotSupported,
               fmt::format("CREATE TRIGGER {} is refused: {}.{}, the function it runs, is "
                           "flagged: {}, and its writes would have no revisions (list it in "
                           "audit.trusted_routines, or allow it with audit.allow: [triggers])",
                           f.value("trigname", ""), r.schema, r.name, routine_reason(r)));
        return;
    }
}

}  // namespace pgrev::audit
