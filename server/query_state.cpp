#include "server/query_state.h"

#include <iterator>

namespace pgrev::server {

using Kind = ResultQueue::Kind;

namespace {

// What an SQL PREPARE or DEALLOCATE in `plan` makes of `name`; false when none touches it.
bool sql_change_of(const audit::RewritePlan& plan, const std::string& name,
                   std::optional<RewrittenStatement>& result) {
    for (auto it = plan.statements.rbegin(); it != plan.statements.rend(); ++it) {
        switch (it->prepared_op) {
            case audit::PreparedOp::Prepare:
                if (it->prepared_name != name) break;
                result.reset();
                if (it->prepared_tag != audit::TagVerb::None) {
                    result = RewrittenStatement{it->prepared_tag, false, nullptr, 0, nullptr, {}};
                }
                return true;
            case audit::PreparedOp::Deallocate:
                if (it->prepared_name != name) break;
                result.reset();
                return true;
            case audit::PreparedOp::DeallocateAll:
                result.reset();
                return true;
            default:
                break;
        }
    }
    return false;
}

}  // namespace

std::optional<RewrittenStatement> QueryState::statement_in_flight(const std::string& name) const {
    std::optional<RewrittenStatement> result;
    bool decided = results.find_in_flight(
        [&](Kind, const ResultPayload::Context&, const BooksChange& pending) {
            if (pending.name) {
                if (pending.name->name != name) return false;
                result = pending.name->statement;
                return true;
            }
            return pending.sql && sql_change_of(*pending.sql, name, result);
        });
    if (decided) return result;
    // SQL and protocol-level prepared statements share one namespace.
    if (auto it = statements.find(name); it != statements.end()) return it->second;
    if (auto it = sql_prepared.find(name); it != sql_prepared.end()) {
        return RewrittenStatement{it->second, false, nullptr, 0, nullptr, {}};
    }
    return std::nullopt;
}

void QueryState::apply(const StatementChange& change) {
    if (change.statement) {
        if (const auto& key = change.statement->reuse_key) {
            if (change.statement->server_name.empty()) {
                own.on_seen(*key);
            } else {
                own.on_created(*key, change.statement->server_name);
            }
        }
        statements[change.name] = *change.statement;
    } else {
        statements.erase(change.name);
        sql_prepared.erase(change.name);
    }
}

audit::TagVerb QueryState::confirm(const audit::StatementPlan& st, audit::TagVerb fix) {
    switch (st.prepared_op) {
        case audit::PreparedOp::Prepare:
            if (st.prepared_tag == audit::TagVerb::None) {
                sql_prepared.erase(st.prepared_name);
            } else {
                sql_prepared[st.prepared_name] = st.prepared_tag;
            }
            break;
        case audit::PreparedOp::Execute: {
            // The statement the name holds when the server ran the EXECUTE.
            if (auto it = sql_prepared.find(st.prepared_name); it != sql_prepared.end()) {
                return it->second;
            }
            auto p = statements.find(st.prepared_name);
            return p == statements.end() ? audit::TagVerb::None : p->second.restore_tag;
        }
        case audit::PreparedOp::Deallocate:
            sql_prepared.erase(st.prepared_name);
            statements.erase(st.prepared_name);
            break;
        case audit::PreparedOp::DeallocateAll:
            // DEALLOCATE ALL and DISCARD ALL drop protocol-level statements too, pgrev's own
            // included (the unnamed statement stays).
            sql_prepared.clear();
            statements.clear();
            own.forget_all();
            break;
        case audit::PreparedOp::CreateTableAsExecute:
        case audit::PreparedOp::None:
            break;
    }
    return fix;
}

void QueryState::on_ready(char status) {
    results.on_ready_for_query(status);
    transaction_status = status;
    own.on_ready();
    if (status != 'I' || portals.empty()) return;
    for (auto it = portals.begin(); it != portals.end();) {
        it = results.portal_gone(it->second.bind_point) ? portals.erase(it) : std::next(it);
    }
}

}  // namespace pgrev::server
