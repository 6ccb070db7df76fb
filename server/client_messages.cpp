#include "server/client_messages.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "audit/name_filter.h"
#include "audit/rewriter.h"
#include "audit/sql_lexer.h"
#include "protocol/frontend_messages.h"
#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"

namespace pgrev::server {

using namespace pgrev::protocol;
using audit::RewritePlan;

namespace {

// Statements whose answer changes the books: the plan waits on the Query's entry until then.
bool has_prepared_ops(const RewritePlan& plan) {
    return std::any_of(plan.statements.begin(), plan.statements.end(),
                       [](const auto& st) { return st.prepared_op != audit::PreparedOp::None; });
}

}  // namespace

bool ClientMessages::wants_whole(char type) const {
    return kWholeTypes.contains(type);
}

bool ClientMessages::on_message(const MessageView& m, Output& out) {
    if ((m.type == frontend::kQuery || m.type == frontend::kParse) &&
        state_.catalog_refresh_needed) {
        state_.catalog_refresh_needed = false;
        session_.request_catalog();
        return false;
    }
    switch (m.type) {
        case frontend::kQuery:
            return on_query(m, out);
        case frontend::kParse:
            return on_parse(m, out);
        case frontend::kBind:
            on_bind(m, out);
            return true;
        case frontend::kDescribe:
            on_describe(m, out);
            return true;
        case frontend::kExecute: {
            // Most sessions never bind a rewritten statement: no lookup, no allocation then.
            if (state_.portals.empty()) {
                state_.results.push_execute(audit::TagVerb::None);
                break;
            }
            Execute e = decode_execute(m.body);
            auto it = state_.portals.find(std::string(e.portal));
            if (it == state_.portals.end()) {
                state_.results.push_execute(audit::TagVerb::None);
            } else {
                state_.results.push_execute(it->second.restore_tag, it->second.plan,
                                            it->second.bind_point);
            }
            break;
        }
        case frontend::kClose: {
            // The name changes when CloseComplete confirms it (after an error the server skips
            // the Close); portals end with their transaction in any case.
            BooksChange change;
            if (state_.has_names() || !state_.portals.empty()) {
                TargetRef t = decode_close(m.body);
                std::string name(t.name);
                if (t.kind != 'S') {
                    state_.portals.erase(name);
                } else if (state_.statement_in_flight(name)) {
                    change = BooksChange::renaming(name, std::nullopt);
                }
            }
            state_.results.push_close(std::move(change));
            break;
        }
        case frontend::kSync:
            state_.results.push_sync();
            break;
        case frontend::kFunctionCall:
            state_.results.push_function_call();
            break;
        case frontend::kCopyDone:
        case frontend::kCopyFail:
            state_.results.push_copy_end();
            break;
        case frontend::kTerminate:
            session_.on_client_terminate();
            break;
        default:
            break;
    }
    out.forward(m.bytes);
    return true;
}

void ClientMessages::on_streamed(char type, std::uint32_t /*length*/, Output& /*out*/) {
    // A Describe gets no entry, but the server in copy-in reads it as the end of the COPY.
    if (type == frontend::kDescribe) state_.results.note_describe();
}

std::vector<audit::TagVerb> ClientMessages::record(const RewritePlan& plan) {
    std::vector<audit::TagVerb> fixes;
    for (const auto& st : plan.statements) {
        audit::TagVerb fix = st.restore_tag;
        if (st.prepared_op == audit::PreparedOp::Prepare) {
            state_.own.note_client_name(st.prepared_name);
        }
        if (st.prepared_op == audit::PreparedOp::Execute) {
            // For an error meanwhile; its CommandComplete looks the name up again.
            auto prepared = state_.statement_in_flight(st.prepared_name);
            if (prepared) fix = prepared->restore_tag;
        }
        fixes.push_back(fix);
    }
    if (plan.changes_catalog) {
        state_.catalog_dirty = true;
        session_.catalog_changed(plan.new_children);
        state_.own.retire_all();
    }
    if (plan.action == RewritePlan::Action::Refuse) {
        spdlog::warn("{}: refused: {}", session_.describe(), plan.refusal_message);
    }
    return fixes;
}

bool ClientMessages::on_query(const MessageView& m, Output& out) {
    Query q = decode_query(m.body);
    // A simple Query replaces the unnamed statement and portal.
    if (!state_.statements.empty()) state_.statements.erase(std::string());
    if (!state_.portals.empty()) state_.portals.erase(std::string());
    if (!needs_analysis(q.sql)) {
        state_.results.push_query({});
        out.forward(m.bytes);
        return true;
    }
    audit::PlanPtr plan = plan_after_settings(q.sql);
    if (!plan) return false;
    retire_on_ddl(q.sql);
    for (const auto& st : plan->statements) {
        if (st.prepared_op == audit::PreparedOp::CreateTableAsExecute &&
            state_.statement_in_flight(st.prepared_name)) {
            // What PostgreSQL says of the statement the client prepared, word for word (no
            // "pgrev: ": the client sees the server's own error).
            plan = std::make_shared<RewritePlan>(audit::refusal_plan(
                sqlstate::kWrongObjectType, "prepared statement is not a SELECT"));
            break;
        }
    }
    std::vector<audit::TagVerb> fixes = record(*plan);
    if (plan->parameterized && !plan->parameterized->text_has_parameters &&
        query_kept(plan, fixes, out)) {
        return true;
    }
    BooksChange sql_changes;
    if (has_prepared_ops(*plan)) sql_changes.sql = plan;
    state_.results.push_query(std::move(fixes), plan, std::move(sql_changes));
    if (plan->action == RewritePlan::Action::Forward) {
        out.forward(m.bytes);
    } else {
        out.inject(encode_query(plan->sql));
    }
    return true;
}

bool ClientMessages::on_parse(const MessageView& m, Output& out) {
    Parse p = decode_parse(m.body);
    if (OwnStatements::is_reserved(p.statement)) state_.own.note_client_name(p.statement);
    // The server drops the unnamed statement as soon as a Parse of it starts; a named one is
    // replaced only once ParseComplete confirms it (42P05 leaves the old one).
    if (p.statement.empty() && !state_.statements.empty()) state_.statements.erase(std::string());
    if (!needs_analysis(p.query)) {
        // Only the unnamed statement can be replaced; a named one that exists stays (42P05).
        BooksChange change;
        if (p.statement.empty() && state_.has_names() && state_.statement_in_flight("")) {
            change = BooksChange::renaming("", std::nullopt);
        }
        state_.results.push_parse(nullptr, std::move(change));
        out.forward(m.bytes);
        return true;
    }
    audit::PlanPtr plan = plan_after_settings(p.query);
    if (!plan) return false;
    retire_on_ddl(p.query);
    // Several statements in one Parse: PostgreSQL refuses them at once. pgrev must not rely
    // on the server counting them as it does, so it sends two statements no reading can join:
    // the client gets PostgreSQL's own error, at Parse time, and nothing runs.
    if (plan->statements.size() > 1) {
        auto multiple = std::make_shared<RewritePlan>();
        multiple->action = RewritePlan::Action::Rewrite;
        multiple->sql = "SELECT 1; SELECT 1";
        plan = multiple;
    }
    std::vector<audit::TagVerb> fixes = record(*plan);
    RewrittenStatement info;
    info.restore_tag = fixes.empty() ? audit::TagVerb::None : fixes.front();
    info.refused = plan->action == RewritePlan::Action::Refuse;
    info.plan = plan;
    if (p.statement.empty() && may_keep_prepared(*plan)) {
        // Kept without the client's comments when it has any (audit/plan_template.h): the
        // form without parameters of pgrev's own, the client's Bind gives only its own.
        audit::PlanPtr kept = plan;
        std::string_view text = p.query;
        if (const auto& form = plan->parameterized; form && form->types.empty()) {
            kept = audit::PlanPtr(form, &form->plan);
            text = kept->sql;
        }
        info.reuse_key =
            std::make_shared<const std::string>(OwnStatements::key(text, p.parameter_types));
        if (parse_kept(p, kept, info, out)) return true;
    }
    std::string name(p.statement);
    BooksChange change;
    if (!p.statement.empty() && state_.has_names() && state_.statement_in_flight(name)) {
        // The name exists when the server reads this Parse: it fails (42P05), and a Bind
        // pipelined behind it finds the old statement.
    } else if (info.restore_tag != audit::TagVerb::None || info.refused ||
               has_prepared_ops(*plan)) {
        // A DEALLOCATE or PREPARE changes the books (pgrev's own statements too) when its
        // Execute completes: its portal carries the plan.
        change = BooksChange::renaming(name, info);
    } else if (p.statement.empty() && state_.has_names() && state_.statement_in_flight(name)) {
        change = BooksChange::renaming(name, std::nullopt);
    }
    state_.results.push_parse(plan, std::move(change));
    if (plan->action == RewritePlan::Action::Forward) {
        out.forward(m.bytes);
    } else {
        p.query = plan->sql;
        out.inject(encode_parse(p));
    }
    return true;
}

void ClientMessages::on_bind(const MessageView& m, Output& out) {
    state_.results.note_bind();
    if (!state_.has_names() && state_.portals.empty()) {
        out.forward(m.bytes);
        return;
    }
    Bind b = decode_bind(m.body);
    std::string portal(b.portal);
    state_.portals.erase(portal);
    // The statement as the server will find it: Parse messages before this Bind may not be
    // confirmed yet (they are usually sent together).
    std::optional<RewrittenStatement> statement =
        state_.statement_in_flight(std::string(b.statement));
    if (!statement) {
        out.forward(m.bytes);
        return;
    }
    statement->bind_point = state_.results.bind_point();
    bool refused = statement->refused;
    std::string server_name = b.statement.empty() ? statement->server_name : std::string();
    state_.portals[portal] = std::move(*statement);
    if (refused) {
        // pgrev's DO block takes no parameters; the client's would fail the Bind with an error
        // of their own instead of pgrev's.
        out.inject(encode_bind(b.portal, b.statement));
    } else if (!server_name.empty()) {
        out.inject(
            encode_bind_renamed(m.body, b, server_name));  // the unnamed statement is pgrev's
    } else {
        out.forward(m.bytes);
    }
}

void ClientMessages::on_describe(const MessageView& m, Output& out) {
    state_.results.note_describe();
    if (state_.has_names()) {
        TargetRef t = decode_describe(m.body);
        if (t.kind == 'S' && t.name.empty()) {
            auto statement = state_.statement_in_flight(std::string());
            if (statement && !statement->server_name.empty()) {
                out.inject(encode_describe({'S', statement->server_name}));
                return;
            }
        }
    }
    out.forward(m.bytes);
}

void ClientMessages::retire_on_ddl(std::string_view sql) {
    // DDL the catalog snapshot does not follow (DROP SCHEMA, DROP OWNED): be conservative.
    if (!state_.own.empty() && server_.ddl_filter.may_match(sql)) state_.own.retire_all();
}

}  // namespace pgrev::server
