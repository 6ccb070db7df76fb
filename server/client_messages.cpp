#include "server/client_messages.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "audit/name_filter.h"
#include "audit/rewriter.h"
#include "protocol/frontend_messages.h"
#include "server/catalog_service.h"
#include "server/client_session.h"

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

}  // namespace

bool ClientMessages::wants_whole(char type) const {
    switch (type) {
        case frontend::kQuery:
        case frontend::kParse:
        case frontend::kBind:
        case frontend::kExecute:
        case frontend::kClose:
        case frontend::kSync:
        case frontend::kFunctionCall:
        case frontend::kCopyDone:
        case frontend::kCopyFail:
        case frontend::kTerminate:
            return true;
        default:
            return false;
    }
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
        case frontend::kExecute: {
            // Most sessions never bind a rewritten statement: no lookup, no allocation then.
            if (state_.portals.empty()) {
                state_.results.push_execute(kNoFix);
                break;
            }
            Execute e = decode_execute(m.body);
            auto it = state_.portals.find(std::string(e.portal));
            if (it == state_.portals.end()) {
                state_.results.push_execute(kNoFix);
            } else {
                state_.results.push_execute(to_fix(it->second.restore_tag), it->second.plan);
            }
            break;
        }
        case frontend::kClose: {
            if (state_.statements.empty() && state_.portals.empty()) break;
            TargetRef t = decode_close(m.body);
            auto& names = t.kind == 'S' ? state_.statements : state_.portals;
            names.erase(std::string(t.name));
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

bool ClientMessages::needs_analysis(std::string_view sql) {
    if (server_.name_filter.may_match(sql) || server_.ddl_filter.may_match(sql)) return true;
    if (std::uint64_t g = server_.catalogs->children_generation(); g != children_generation_) {
        children_generation_ = g;
        children_filter_ = server_.catalogs->children_filter(database_);
    }
    if (children_filter_ && children_filter_->may_match(sql)) return true;
    // EXECUTE of a rewritten SQL-level PREPARE names no table, but its tag needs fixing; and
    // the names it uses can be deallocated or prepared again.
    if (state_.sql_prepared.empty()) return false;
    for (std::string_view word : {"execute", "deallocate", "discard", "prepare"}) {
        if (audit::NameFilter::contains_ci(sql, word)) return true;
    }
    return false;
}

audit::PlanPtr ClientMessages::refusal(std::string sqlstate, std::string message) const {
    auto plan = std::make_shared<RewritePlan>();
    plan->action = RewritePlan::Action::Refuse;
    plan->refusal_sqlstate = std::move(sqlstate);
    plan->refusal_message = std::move(message);
    plan->sql = audit::refusal_statement(plan->refusal_sqlstate, plan->refusal_message);
    plan->statements.emplace_back();
    return plan;
}

audit::PlanPtr ClientMessages::plan_for(std::string_view sql) {
    bool fresh = after_load_;
    after_load_ = false;
    std::string load_error = std::move(load_error_);
    load_error_.clear();

    if (!state_.standard_conforming_strings) {
        return refusal("0A000",
                       "pgrev: cannot audit statements while standard_conforming_strings is "
                       "off: pgrev could misread backslashes in string literals (turn it on)");
    }
    if (!encoding_is_safe(state_.client_encoding) &&
        std::any_of(sql.begin(), sql.end(), [](char c) { return (c & 0x80) != 0; })) {
        return refusal("0A000",
                       "pgrev: cannot audit statements with non-ASCII text while "
                       "client_encoding is " +
                           state_.client_encoding +
                           ": in it a character can hide a backslash or quote from pgrev "
                           "(use UTF8)");
    }
    audit::CatalogPtr catalog = server_.catalogs->current(database_);
    if (!catalog) {
        // Without a catalog only texts that name an audited table must be refused; DDL that
        // was analysed for what it might drop can only drop what exists.
        if (fresh && !server_.name_filter.may_match(sql)) {
            return std::make_shared<RewritePlan>();
        }
        if (fresh) {
            return refusal("58000",
                           "pgrev: cannot audit this statement: the catalog of "
                           "database \"" +
                               database_ + "\" cannot be read: " + load_error);
        }
        session_.request_catalog();
        return nullptr;
    }
    auto& cache = thread_plan_cache();
    // The plan of a text pgrev cannot parse depends on the server's version.
    std::uint8_t variant = state_.server_has_pgrevs_grammar ? 1 : 0;
    if (auto cached = cache.find(catalog->generation(), sql, variant)) return cached;

    std::shared_ptr<RewritePlan> plan;
    try {
        plan = std::make_shared<RewritePlan>(audit::plan_rewrite(
            sql, *catalog, server_.config.audit, fresh, state_.server_has_pgrevs_grammar));
    } catch (const std::exception& e) {
        // A statement pgrev cannot analyse must not pass unaudited: fail closed.
        spdlog::error("{}: cannot analyse a statement ({}): {}", session_.describe(), e.what(),
                      std::string(sql.substr(0, 200)));
        return refusal("XX000", std::string("pgrev: cannot audit this statement: internal "
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
    // Big texts (bulk INSERTs) are rarely sent twice: caching them would only hold memory.
    constexpr std::size_t kMaxCachedText = 64 * 1024;
    if ((!fresh || plan->action != RewritePlan::Action::Refuse) && sql.size() <= kMaxCachedText) {
        cache.insert(catalog->generation(), sql, plan, variant);
    }
    return plan;
}

audit::PlanPtr ClientMessages::plan_after_settings(std::string_view sql) {
    if (state_.results.settings_barrier_pending()) {
        if (state_.results.settings_barrier_waitable()) {
            // The answer to an earlier statement may change how this text reads: wait for it.
            state_.waiting_for_settings = true;
            session_.suspend_client();
            return nullptr;
        }
        return refusal("0A000",
                       "pgrev: cannot audit this statement yet: a statement before it in the "
                       "same pipeline may change standard_conforming_strings or "
                       "client_encoding; send Sync first");
    }
    return plan_for(sql);
}

void ClientMessages::on_catalog_loaded(std::string error) {
    after_load_ = true;
    load_error_ = std::move(error);
}

std::vector<TagFix> ClientMessages::record(const RewritePlan& plan) {
    std::vector<TagFix> fixes;
    for (const auto& st : plan.statements) {
        TagFix fix = to_fix(st.restore_tag);
        switch (st.prepared_op) {
            case audit::PreparedOp::Prepare:
                if (st.prepared_tag == audit::TagVerb::None) {
                    state_.sql_prepared.erase(st.prepared_name);
                } else {
                    state_.sql_prepared[st.prepared_name] = st.prepared_tag;
                }
                break;
            case audit::PreparedOp::Execute: {
                // SQL and protocol-level prepared statements share one namespace.
                if (auto it = state_.sql_prepared.find(st.prepared_name);
                    it != state_.sql_prepared.end()) {
                    fix = to_fix(it->second);
                } else if (auto p = state_.statements.find(st.prepared_name);
                           p != state_.statements.end()) {
                    fix = to_fix(p->second.restore_tag);
                }
                break;
            }
            case audit::PreparedOp::Deallocate:
                state_.sql_prepared.erase(st.prepared_name);
                state_.statements.erase(st.prepared_name);
                break;
            case audit::PreparedOp::DeallocateAll:
                // DEALLOCATE ALL and DISCARD ALL drop protocol-level statements too.
                state_.sql_prepared.clear();
                state_.statements.clear();
                break;
            case audit::PreparedOp::CreateTableAsExecute:
            case audit::PreparedOp::None:
                break;
        }
        fixes.push_back(fix);
    }
    if (plan.changes_catalog) {
        state_.catalog_dirty = true;
        server_.catalogs->invalidate(database_);
    }
    if (plan.action == RewritePlan::Action::Refuse) {
        spdlog::warn("{}: refused: {}", session_.describe(), plan.refusal_message);
    }
    return fixes;
}

bool ClientMessages::on_query(const MessageView& m, Output& out) {
    Query q = decode_query(m.body);
    // A simple Query replaces the unnamed statement and portal.
    state_.statements.erase(std::string());
    state_.portals.erase(std::string());
    bool changes_settings = server_.settings_filter.may_match(q.sql);
    if (!needs_analysis(q.sql)) {
        state_.results.push_query({});
        if (changes_settings) state_.results.mark_settings_barrier();
        out.forward(m.bytes);
        return true;
    }
    audit::PlanPtr plan = plan_after_settings(q.sql);
    if (!plan) return false;
    for (const auto& st : plan->statements) {
        if (st.prepared_op == audit::PreparedOp::CreateTableAsExecute &&
            state_.sql_prepared.count(st.prepared_name) > 0) {
            // What PostgreSQL says of the statement the client prepared.
            plan = refusal("42809", "prepared statement is not a SELECT");
            break;
        }
    }
    state_.results.push_query(record(*plan), plan);
    if (changes_settings) state_.results.mark_settings_barrier();
    if (plan->action == RewritePlan::Action::Forward) {
        out.forward(m.bytes);
    } else {
        out.inject(encode_query(plan->sql));
    }
    return true;
}

bool ClientMessages::on_parse(const MessageView& m, Output& out) {
    Parse p = decode_parse(m.body);
    std::string name(p.statement);
    if (!state_.statements.empty()) state_.statements.erase(name);
    bool changes_settings = server_.settings_filter.may_match(p.query);
    if (!needs_analysis(p.query)) {
        state_.results.push_parse(nullptr);
        if (changes_settings) state_.results.mark_settings_barrier();
        out.forward(m.bytes);
        return true;
    }
    audit::PlanPtr plan = plan_after_settings(p.query);
    if (!plan) return false;
    // Several statements in one Parse: PostgreSQL refuses them at once. pgrev must not rely
    // on the server counting them as it does, so it sends two statements no reading can join:
    // the client gets PostgreSQL's own error, at Parse time, and nothing runs.
    if (plan->statements.size() > 1) {
        auto multiple = std::make_shared<RewritePlan>();
        multiple->action = RewritePlan::Action::Rewrite;
        multiple->sql = "SELECT 1; SELECT 1";
        plan = multiple;
    }
    state_.results.push_parse(plan);
    if (changes_settings) state_.results.mark_settings_barrier();
    std::vector<TagFix> fixes = record(*plan);
    RewrittenStatement info;
    info.restore_tag = fixes.empty() ? audit::TagVerb::None : to_verb(fixes.front());
    info.refused = plan->action == RewritePlan::Action::Refuse;
    info.plan = plan;
    if (info.restore_tag != audit::TagVerb::None || info.refused) state_.statements[name] = info;
    if (plan->action == RewritePlan::Action::Forward) {
        out.forward(m.bytes);
    } else {
        p.query = plan->sql;
        out.inject(encode_parse(p));
    }
    return true;
}

void ClientMessages::on_bind(const MessageView& m, Output& out) {
    if (state_.statements.empty() && state_.sql_prepared.empty() && state_.portals.empty()) {
        out.forward(m.bytes);
        return;
    }
    Bind b = decode_bind(m.body);
    std::string portal(b.portal);
    state_.portals.erase(portal);
    auto it = state_.statements.find(std::string(b.statement));
    if (it == state_.statements.end()) {
        // A statement made by SQL PREPARE, bound through the protocol: same namespace.
        if (auto p = state_.sql_prepared.find(std::string(b.statement));
            p != state_.sql_prepared.end()) {
            state_.portals[portal] = RewrittenStatement{p->second, false, nullptr};
        }
        out.forward(m.bytes);
        return;
    }
    state_.portals[portal] = it->second;
    if (it->second.refused) {
        // pgrev's DO block takes no parameters; the client's would fail the Bind with an error
        // of their own instead of pgrev's.
        out.inject(encode_bind(b.portal, b.statement));
    } else {
        out.forward(m.bytes);
    }
}

}  // namespace pgrev::server
