// Checks on SQL text shared by the audit tests: substring assertions with readable failures, and
// "this is one DO block" via libpg_query, so a refusal is known to reach the server intact.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "audit/parse_tree.h"
#include "audit/rewrite_plan.h"

namespace pgrev::test {

inline bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

// Exactly one top-level statement, a DO block, that PostgreSQL's grammar accepts.
inline bool is_single_do_block(std::string_view sql) {
    audit::ParseResult parsed = audit::parse_sql(sql);
    return parsed.ok && parsed.statements.size() == 1 &&
           audit::node_kind(*parsed.statements[0].node) == "DoStmt";
}

inline const char* action_name(audit::RewritePlan::Action a) {
    switch (a) {
        case audit::RewritePlan::Action::Forward:
            return "Forward";
        case audit::RewritePlan::Action::Rewrite:
            return "Rewrite";
        case audit::RewritePlan::Action::Refuse:
            return "Refuse";
        case audit::RewritePlan::Action::NeedCatalog:
            return "NeedCatalog";
    }
    return "?";
}

}  // namespace pgrev::test

#define CHECK_CONTAINS(text, part)                                                       \
    CHECK_MESSAGE(::pgrev::test::contains((text), (part)), "missing: " << (part) << "\n" \
                                                                       << "in: " << (text))
#define CHECK_NOT_CONTAINS(text, part)                                                       \
    CHECK_MESSAGE(!::pgrev::test::contains((text), (part)), "unexpected: " << (part) << "\n" \
                                                                           << "in: " << (text))
// The plan's action, printed by name when it differs.
#define CHECK_ACTION(plan, expected)                                                  \
    CHECK_MESSAGE((plan).action == ::pgrev::audit::RewritePlan::Action::expected,     \
                  "action " << std::string(::pgrev::test::action_name((plan).action)) \
                            << ", sql: " << (plan).sql)
