// The two ways pgrev keeps the rewrite of a text a client sends again and again prepared on
// its server session (server/own_statements.h): an unnamed Parse, and a simple Query whose
// plan has a parameterized form (audit/plan_template.h).
#include <memory>

#include "audit/literal_parameters.h"
#include "protocol/frontend_messages.h"
#include "server/client_messages.h"

namespace pgrev::server {

using namespace pgrev::protocol;
using audit::RewritePlan;

bool ClientMessages::may_keep_prepared(const RewritePlan& plan) {
    return plan.action == RewritePlan::Action::Rewrite && plan.audits &&
           plan.result_columns_named && plan.statements.size() == 1;
}

bool ClientMessages::parse_kept(const Parse& p, const audit::PlanPtr& plan, RewrittenStatement info,
                                Output& out) {
    // The server reads this Parse in the transaction state the last ReadyForQuery reported,
    // and in a failed transaction it fails the Parse: the 3rd step would answer it instead.
    if (state_.transaction_status == 'E' || state_.results.ready_in_flight()) return false;
    audit::CatalogPtr catalog = session_.current_catalog();
    if (!catalog) return false;
    OwnStatements::Decision decision =
        state_.own.decide(*info.reuse_key, plan->sql, catalog->generation());
    if (decision.step == OwnStatements::Step::Forward) return false;
    if (decision.step == OwnStatements::Step::Create &&
        !audit::parameters_plan_alike(plan->sql, p.parameter_types)) {
        // The client's unnamed statement always runs with a custom plan, where parameters
        // are constants while planning; pgrev's may run with a generic one. Where that could
        // differ (audit/literal_parameters.h), the text is not kept.
        state_.own.mark_unkeepable(*info.reuse_key);
        return false;
    }
    info.server_name = decision.name;
    info.plan = plan;  // errors point into the text kept, which `plan` maps back
    BooksChange change = BooksChange::renaming("", info);
    // The client's Parse drops its unnamed statement first thing; so does this Close.
    out.inject(encode_close({'S', ""}));
    if (decision.step == OwnStatements::Step::Create) {
        state_.results.push_own_close();
        Parse named = p;
        named.statement = decision.name;
        named.query = plan->sql;
        state_.results.push_parse(plan, std::move(change));
        out.inject(encode_parse(named));
    } else {
        state_.results.push_parse_by_close(plan, std::move(change));
    }
    // Statements pgrev no longer keeps, once the client's unnamed one is not one of them.
    close_retired(out);
    return true;
}

bool ClientMessages::query_kept(const audit::PlanPtr& plan, std::vector<audit::TagVerb>& fixes,
                                Output& out) {
    // Nothing in flight (not even a Bind or Describe, whose answers have no entry: a NoData
    // would be taken for pgrev's): the server reads these messages in the transaction state
    // the last ReadyForQuery reported (in a failed one the Parse or Bind would fail where the
    // Query does too, but there is nothing to gain), and their answers are the first to come.
    if (state_.transaction_status == 'E' || !state_.results.empty() ||
        !state_.results.ready_will_follow() || state_.results.untracked_in_flight()) {
        return false;
    }
    audit::CatalogPtr catalog = session_.current_catalog();
    if (!catalog) return false;
    const std::shared_ptr<const audit::ParameterizedPlan>& form = plan->parameterized;
    std::string key = OwnStatements::key(form->plan.sql, form->types);
    OwnStatements::Decision decision =
        state_.own.decide(key, form->plan.sql, catalog->generation());
    if (decision.step == OwnStatements::Step::Forward) {
        // Sent as text this time; the next time pgrev prepares it.
        state_.own.on_seen(key);
        return false;
    }
    close_retired(out);
    BooksChange created;
    if (decision.step == OwnStatements::Step::Create) {
        created.own_parse = std::make_shared<const BooksChange::OwnStatement>(
            BooksChange::OwnStatement{key, decision.name});
        out.inject(encode_parse({decision.name, form->plan.sql, form->types}));
    }
    out.inject(encode_bind_text("", decision.name, form->values));
    if (!plan->returns_no_rows) {
        // RETURNING: its rows come with a description (held until they do, QueryState).
        out.inject(encode_describe({'P', ""}));
        state_.row_description.awaited = true;
    }
    out.inject(encode_execute({"", 0}));
    out.inject(encode_sync());
    // Errors point into the parameterized text: its plan maps them back.
    audit::PlanPtr context(form, &form->plan);
    state_.results.push_query_extended(std::move(fixes), std::move(context), std::move(created));
    return true;
}

void ClientMessages::close_retired(Output& out) {
    for (std::string& name : state_.own.take_to_close()) {
        BooksChange closed;
        closed.own_close = std::make_shared<const std::string>(name);
        state_.results.push_own_close(std::move(closed));
        out.inject(encode_close({'S', name}));
    }
}

}  // namespace pgrev::server
