#include "server/client_messages.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "audit/name_filter.h"
#include "audit/plan_template.h"
#include "audit/rewriter.h"
#include "audit/sql_lexer.h"
#include "audit/statement_shape.h"
#include "protocol/frontend_messages.h"
#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"

namespace pgrev::server {

using namespace pgrev::protocol;
using audit::RewritePlan;

namespace {

// Plans are cached per I/O thread: no lock on the hot path.
audit::PlanCache& thread_plan_cache() {
    thread_local audit::PlanCache cache(4096);
    return cache;
}

// Client-only encodings whose multibyte characters may contain ASCII bytes such as 0x5C or
// 0x27 (PostgreSQL's own list): text in them does not read the same byte by byte.
bool encoding_is_safe(const std::string& encoding) {
    for (const char* unsafe :
         {"SJIS", "SHIFT_JIS_2004", "BIG5", "GBK", "UHC", "GB18030", "JOHAB"}) {
        if (encoding == unsafe) return false;
    }
    return true;
}

bool is_ascii(std::string_view sql) {
    return std::none_of(sql.begin(), sql.end(), [](char c) { return (c & 0x80) != 0; });
}

// Reads the same under any standard_conforming_strings and client_encoding.
bool is_plain(std::string_view sql) {
    return is_ascii(sql) && audit::backslashes_read_the_same(sql);
}

// What a Parse or Close makes of a statement name once the server confirms it.
BooksChange name_change(std::string name, std::optional<RewrittenStatement> statement) {
    return {std::make_shared<const StatementChange>(
                StatementChange{std::move(name), std::move(statement)}),
            nullptr, nullptr};
}

// Statements whose answer changes the books: the plan waits on the Query's entry until then.
bool has_prepared_ops(const RewritePlan& plan) {
    return std::any_of(plan.statements.begin(), plan.statements.end(),
                       [](const auto& st) { return st.prepared_op != audit::PreparedOp::None; });
}

// The client's Bind with pgrev's statement name for the unnamed statement it names; the
// parameters and formats stay as they are.
std::string bind_of(const MessageView& m, const Bind& b, std::string_view statement) {
    std::size_t name_at =
        static_cast<std::size_t>(b.portal.data() - m.body.data()) + b.portal.size() + 1;
    std::string body(m.body.data(), name_at);
    body.append(statement);
    body.append(m.body.data() + name_at, m.body.size() - name_at);
    std::string bytes(1, frontend::kBind);
    std::uint32_t length = static_cast<std::uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8)
        bytes.push_back(static_cast<char>((length >> shift) & 0xFF));
    return bytes + body;
}

// A text pgrev may keep prepared for a session (server/own_statements.h): one rewritten
// statement that returns no rows.
bool may_keep_prepared(const RewritePlan& plan) {
    return plan.action == RewritePlan::Action::Rewrite && plan.audits && plan.returns_no_rows &&
           plan.statements.size() == 1;
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
                    change = name_change(name, std::nullopt);
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

void ClientMessages::on_streamed(char type, std::uint32_t /*length*/) {
    // A Describe gets no entry, but the server in copy-in reads it as the end of the COPY.
    if (type == frontend::kDescribe) state_.results.note_describe();
}

bool ClientMessages::needs_analysis(std::string_view sql) {
    if (server_.name_filter.may_match(sql) || server_.ddl_filter.may_match(sql)) return true;
    if (std::uint64_t g = session_.children_generation(); g != children_generation_) {
        children_generation_ = g;
        children_filter_ = session_.children_filter();
    }
    if (children_filter_ && children_filter_->may_match(sql)) return true;
    // EXECUTE of a rewritten SQL-level PREPARE names no table, but its tag needs fixing; and
    // the names it uses can be deallocated or prepared again.
    if (!state_.has_names()) return false;
    for (std::string_view word : {"execute", "deallocate", "discard", "prepare"}) {
        if (audit::NameFilter::contains_ci(sql, word)) return true;
    }
    return false;
}

audit::PlanPtr ClientMessages::refusal(std::string_view sqlstate, std::string_view reason) const {
    return std::make_shared<RewritePlan>(
        audit::refusal_plan(sqlstate, protocol::pgrev_message(reason)));
}

audit::PlanPtr ClientMessages::plan_for(std::string_view sql) {
    bool fresh = after_load_;
    after_load_ = false;
    std::string load_error = std::move(load_error_);
    load_error_.clear();

    if (!state_.standard_conforming_strings && !audit::backslashes_read_the_same(sql)) {
        return refusal(sqlstate::kFeatureNotSupported,
                       "cannot audit a statement with a backslash in a string literal "
                       "while standard_conforming_strings is off: pgrev could misread the "
                       "literal (turn it on)");
    }
    if (!encoding_is_safe(state_.client_encoding) && !is_ascii(sql)) {
        return refusal(sqlstate::kFeatureNotSupported,
                       "cannot audit statements with non-ASCII text while "
                       "client_encoding is " +
                           state_.client_encoding +
                           ": in it a character can hide a backslash or quote from pgrev "
                           "(use UTF8)");
    }
    audit::CatalogPtr catalog = session_.current_catalog();
    if (!catalog) {
        // Without a catalog only texts that name an audited table must be refused; DDL that
        // was analysed for what it might drop can only drop what exists.
        if (fresh && !server_.name_filter.may_match(sql)) {
            return std::make_shared<RewritePlan>();
        }
        if (fresh) {
            return refusal(sqlstate::kSystemError,
                           "cannot audit this statement: the catalog of "
                           "database \"" +
                               session_.database() + "\" cannot be read: " + load_error);
        }
        session_.request_catalog();
        return nullptr;
    }
    audit::PlanPtr plan = cached_plan(sql, *catalog, fresh);
    if (plan && !state_.standard_conforming_strings &&
        !audit::backslashes_read_the_same(plan->sql)) {
        // What pgrev adds must read the same as well.
        return refusal(sqlstate::kFeatureNotSupported,
                       "cannot audit this statement while standard_conforming_strings "
                       "is off: its rewrite holds a backslash in a string literal (turn it on)");
    }
    return plan;
}

audit::PlanPtr ClientMessages::cached_plan(std::string_view sql,
                                           const audit::CatalogSnapshot& catalog, bool fresh) {
    auto& cache = thread_plan_cache();
    // The plan of a text pgrev cannot parse depends on the server's version.
    std::uint8_t variant = state_.server_has_pgrevs_grammar ? 1 : 0;
    // Shapes are kept under their own variants: a key never equals a text's.
    std::uint8_t shape_variant = variant | 2;
    if (auto cached = cache.find(catalog.generation(), sql, variant)) return cached;
    // Big texts (bulk INSERTs) are rarely sent twice: caching them would only hold memory.
    constexpr std::size_t kMaxCachedText = 64 * 1024;
    audit::StatementShape shape;
    if (sql.size() <= kMaxCachedText) shape = audit::statement_shape(sql);
    // The shape's entry holds its template, or none when its plans cannot be filled in.
    audit::PlanPtr shaped =
        shape.usable ? cache.find(catalog.generation(), shape.key, shape_variant) : nullptr;
    if (shaped && shaped->shape_template) {
        return std::make_shared<RewritePlan>(shaped->shape_template->fill(sql, shape));
    }

    auto planner = [&](std::string_view text) {
        return audit::plan_rewrite(text, catalog, server_.config.audit, fresh,
                                   state_.server_has_pgrevs_grammar);
    };
    std::shared_ptr<RewritePlan> plan;
    try {
        plan = std::make_shared<RewritePlan>(planner(sql));
        if (shape.usable && !shaped && plan->action != RewritePlan::Action::NeedCatalog) {
            auto entry = std::make_shared<RewritePlan>();
            entry->shape_template = audit::PlanTemplate::make(sql, shape, *plan, planner);
            cache.insert(catalog.generation(), shape.key, entry, shape_variant);
        }
    } catch (const std::exception& e) {
        // A statement pgrev cannot analyse must not pass unaudited: fail closed.
        spdlog::error("{}: cannot analyse a statement ({}): {}", session_.describe(), e.what(),
                      std::string(sql.substr(0, 200)));
        return refusal(sqlstate::kInternalError,
                       std::string("cannot audit this statement: internal "
                                   "error while analysing it (") +
                           e.what() + ")");
    }
    if (plan->action == RewritePlan::Action::NeedCatalog) {
        spdlog::debug("{}: {} is not in the catalog snapshot; reading it again",
                      session_.describe(), plan->unknown_tables.front());
        session_.request_catalog();
        return nullptr;
    }
    // A refusal for a table that may yet be created is decided afresh each time.
    if ((!fresh || plan->action != RewritePlan::Action::Refuse) && sql.size() <= kMaxCachedText) {
        cache.insert(catalog.generation(), sql, plan, variant);
    }
    return plan;
}

audit::PlanPtr ClientMessages::plan_after_settings(std::string_view sql) {
    // Only a backslash (standard_conforming_strings) or a non-ASCII byte (client_encoding; all
    // server encodings are ASCII supersets) can read differently under other settings. Texts
    // without them are read at once, whatever is in flight.
    if (is_plain(sql) || !state_.results.awaiting_answers()) return plan_for(sql);
    if (state_.results.copy_reads_next_message()) {
        // The server is in COPY FROM STDIN and reads this message as part of it: it fails the
        // COPY and discards the message unread (copyfromparse.c). Send it a text that would do
        // no harm if it ran; the queue gives it no entry.
        return refusal(sqlstate::kFeatureNotSupported,
                       "not run: the server read this message during COPY");
    }
    if (state_.results.ready_will_follow()) {
        // What is in flight may change a setting, whatever its text (a DO block, an UPDATE of
        // pg_settings, a COMMIT ending SET LOCAL): the server reports it (ParameterStatus)
        // before its ReadyForQuery. Wait for that.
        state_.waiting_for_settings = true;
        session_.suspend_client();
        return nullptr;
    }
    return refusal(sqlstate::kFeatureNotSupported,
                   "cannot audit this statement yet: a message before it in the same "
                   "pipeline may change standard_conforming_strings or client_encoding, and "
                   "the server reports that only at the next Sync; send Sync first");
}

void ClientMessages::on_catalog_loaded(std::string error) {
    after_load_ = true;
    load_error_ = std::move(error);
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
            change = name_change("", std::nullopt);
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
        info.reuse_key =
            std::make_shared<const std::string>(OwnStatements::key(p.query, p.parameter_types));
        if (parse_kept(p, plan, info, out)) return true;
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
        change = name_change(name, info);
    } else if (p.statement.empty() && state_.has_names() && state_.statement_in_flight(name)) {
        change = name_change(name, std::nullopt);
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
        out.inject(bind_of(m, b, server_name));  // the unnamed statement is pgrev's
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
    info.server_name = decision.name;
    BooksChange change = name_change("", info);
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
    for (std::string& name : state_.own.take_to_close()) {
        BooksChange closed;
        closed.own_close = std::make_shared<const std::string>(name);
        state_.results.push_own_close(std::move(closed));
        out.inject(encode_close({'S', name}));
    }
    return true;
}

}  // namespace pgrev::server
