// The checks of the rewriter's refusal tests, shared by every test file that builds its own
// catalog: a plan refuses with an SQLSTATE and a `pgrev: ` message, or it does not refuse.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "audit/rewriter.h"
#include "config/config.h"
#include "tests/audit/sql_checks.h"

namespace pgrev::test {

inline void check_refusal(const audit::RewritePlan& p, const std::string& sqlstate,
                          const std::string& message_part) {
    CHECK_ACTION(p, Refuse);
    CHECK(p.refusal_sqlstate == sqlstate);
    CHECK(p.refusal_message.starts_with("pgrev: "));
    CHECK_CONTAINS(p.refusal_message, message_part);
}

inline void check_no_refusal(const audit::RewritePlan& p) {
    CHECK_MESSAGE(p.action != audit::RewritePlan::Action::Refuse, p.refusal_message);
}

// The default policy with one audit.allow switch on.
inline config::Audit allowing(bool config::Audit::*flag) {
    config::Audit policy;
    policy.*flag = true;
    return policy;
}

}  // namespace pgrev::test
