#include "server/server_messages.h"

#include <cstdlib>

#include "audit/parse_tree.h"
#include "audit/rewriter.h"
#include "protocol/backend_messages.h"
#include "protocol/sqlstate.h"
#include "server/pump.h"

namespace pgrev::server {

using namespace pgrev::protocol;

bool ServerMessages::wants_whole(char type) const {
    return kWholeTypes.contains(type) ||
           (type == backend::kRowDescription && state_.row_description.awaited);
}

void ServerMessages::on_streamed(char type, std::uint32_t /*length*/, Output& out) {
    if (type == backend::kDataRow) release_row_description(out);
}

void ServerMessages::release_row_description(Output& out) {
    std::string& held = state_.row_description.bytes;
    if (held.empty()) return;
    out.inject(std::move(held));
    held.clear();
}

namespace {

// Makes an error about a rewritten statement read as if about the client's: its position
// points into the text pgrev sent, and "cannot execute INSERT in a read-only transaction"
// names the statement pgrev sent. Returns whether anything changed.
bool restore_error(const audit::RewritePlan& plan, audit::TagVerb verb, ErrorFields& error) {
    bool changed = false;
    std::string position = error.get('P');
    if (!position.empty() && !plan.source_map.empty()) {
        int mapped = plan.original_error_position(std::atoi(position.c_str()));
        changed = error.set('P', std::to_string(mapped)) || changed;
    }
    std::string message = audit::restore_error_message(verb, error.message());
    bool refusal = plan.is_refusal_error(message);
    if (plan.action == audit::RewritePlan::Action::Rewrite) {
        // The search_path guard fired: a refusal, not the cast it fails with.
        std::string guard = audit::search_path_guard_message(error.get('C'), message);
        if (!guard.empty()) {
            changed = error.set('C', std::string(sqlstate::kFeatureNotSupported)) || changed;
            message = std::move(guard);
            refusal = true;
        }
    }
    if (message != error.message()) changed = error.set('M', message) || changed;
    // pgrev's own refusal, raised by its DO block or its guard: the PL/pgSQL context and the
    // source location ("inline_code_block line 1 at RAISE", pl_exec.c; int4in) would only
    // mislead.
    if (refusal) {
        for (char code : {'W', 'F', 'L', 'R'})
            changed = error.erase(code) || changed;
    }
    return changed;
}

}  // namespace

bool ServerMessages::on_message(const MessageView& m, Output& out) {
    bool forwarded = on_answer(m, out);
    // An answer pgrev cannot match to what it sent: it no longer knows which rewrite a result
    // belongs to. Carrying on could give a client the wrong tag or error; end the session.
    if (state_.results.unmatched() != 0) {
        throw OutOfStep(std::string("a '") + m.type +
                        "' message from the server answers nothing pgrev sent");
    }
    return forwarded;
}

bool ServerMessages::on_answer(const MessageView& m, Output& out) {
    switch (m.type) {
        case backend::kCommandComplete: {
            // The plan of the statement this completes (forwarded texts have none): what it
            // confirms goes into the books now.
            ResultPayload::Context plan;
            std::size_t index = 0;
            if (const ResultPayload::Context& current = state_.results.current_context()) {
                ResultQueue::Kind kind = state_.results.current_kind();
                if (kind == ResultQueue::Kind::Query || kind == ResultQueue::Kind::Execute ||
                    kind == ResultQueue::Kind::QueryExtended) {
                    plan = current;
                    index = state_.results.current_statement();
                }
            }
            release_row_description(out);  // when no row came: just before the completion
            audit::TagVerb verb = state_.results.on_command_complete();
            if (plan && index < plan->statements.size()) {
                verb = state_.confirm(plan->statements[index], verb);
            }
            if (verb != audit::TagVerb::None) {
                std::string tag = decode_command_complete(m.body);
                out.inject(encode_command_complete(audit::restore_tag(verb, tag)));
                return true;
            }
            break;
        }
        case backend::kEmptyQueryResponse:
            state_.results.on_empty_query();
            break;
        case backend::kParseComplete:
            if (state_.results.answers_query_extended()) {
                // pgrev's statement for a client's Query (QueryExtended): it exists now.
                BooksChange change = state_.results.on_query_extended_parse();
                if (change.own_parse) {
                    state_.own.on_created(change.own_parse->key, change.own_parse->name);
                }
                return true;
            }
            if (BooksChange change = state_.results.on_parse_complete(); change.name) {
                state_.apply(*change.name);
            }
            break;
        case backend::kBindComplete:
        case backend::kNoData:
            // The client's Query was sent as Bind and Execute: no answer of its kind.
            if (state_.results.answers_query_extended()) return true;
            break;
        case backend::kCloseComplete: {
            ResultQueue::Kind kind = state_.results.current_kind();
            BooksChange change = state_.results.on_close_complete();
            if (change.name) state_.apply(*change.name);
            if (change.own_close) state_.own.on_closed(*change.own_close);
            // A Close pgrev sent for itself: the client sent nothing this answers.
            if (kind == ResultQueue::Kind::OwnClose) return true;
            if (kind == ResultQueue::Kind::ParseByClose) {
                // The answer to the client's Parse, sent in its place (own_statements.h).
                out.inject(encode_parse_complete());
                return true;
            }
            break;
        }
        case backend::kCopyInResponse:
            state_.results.on_copy_in();
            if (state_.waiting_for_settings && state_.results.copy_reads_next_message()) {
                // The message pgrev holds is the next one the server reads, as part of the
                // COPY: no answer will come before it. Let it go (ClientMessages sends what
                // the server would read there).
                state_.waiting_for_settings = false;
                session_.resume_client();
            }
            break;
        case backend::kPortalSuspended:
            state_.results.on_portal_suspended();
            break;
        case backend::kErrorResponse: {
            ErrorFields error = decode_error_fields(m.body);
            ResultPayload::Context plan = state_.results.current_context();
            audit::TagVerb verb = state_.results.current_fix();
            state_.results.on_error();
            session_.on_server_error(error);
            state_.row_description.drop();
            if (error.sqlstate() == sqlstate::kFeatureNotSupported &&
                error.get('R') == "RevalidateCachedQuery") {
                // "cached plan must not change result type": DDL behind pgrev's back changed
                // the type of a column one of its statements returns (own_statements.h).
                // Once is enough: prepared again, they take the new type.
                state_.own.retire_all();
            }
            if (plan && restore_error(*plan, verb, error)) {
                out.inject(encode_error_fields(backend::kErrorResponse, error));
                return true;
            }
            break;
        }
        case backend::kRowDescription:
            if (state_.row_description.awaited) {
                state_.row_description.awaited = false;
                state_.row_description.bytes.assign(m.bytes.begin(), m.bytes.end());
                return true;
            }
            break;
        case backend::kReadyForQuery: {
            char status = decode_ready_for_query(m.body);
            state_.row_description.drop();
            state_.on_ready(status);
            if (state_.waiting_for_settings && !state_.results.awaiting_answers()) {
                // Every answer is in, with the ParameterStatus of any setting they changed.
                state_.waiting_for_settings = false;
                session_.resume_client();
            }
            session_.on_server_ready(status);
            break;
        }
        case backend::kParameterStatus: {
            ParameterStatus p = decode_parameter_status(m.body);
            if (p.name == "standard_conforming_strings") {
                state_.standard_conforming_strings = p.value == "on";
            } else if (p.name == "client_encoding") {
                state_.client_encoding = p.value;
            } else if (p.name == "server_version") {
                state_.server_has_pgrevs_grammar = audit::same_major_version(p.value);
            }
            break;
        }
        default:
            break;
    }
    out.forward(m.bytes);
    return true;
}

}  // namespace pgrev::server
