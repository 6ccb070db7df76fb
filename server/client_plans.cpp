// ClientMessages' plans: which texts are analysed at all (the fast path), and the plan of one
// that is, from the per-thread cache by text or by shape, or made by the rewriter
// (docs/ARCHITECTURE.md, Life of a client message, steps 3 and 4). The rest of the class is in
// client_messages.cpp.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "audit/name_filter.h"
#include "audit/plan_template.h"
#include "audit/rewriter.h"
#include "audit/sql_lexer.h"
#include "audit/statement_shape.h"
#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"
#include "server/client_messages.h"

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

}  // namespace

bool ClientMessages::needs_analysis(std::string_view sql) {
    if (server_.analysis_filter.may_match(sql)) return true;
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
            entry->shape_template = audit::PlanTemplate::make(sql, shape, *plan, planner, &catalog);
            cache.insert(catalog.generation(), shape.key, entry, shape_variant);
            // The same plan, with what only a filled-in plan has (its parameterized form).
            if (entry->shape_template) {
                plan = std::make_shared<RewritePlan>(entry->shape_template->fill(sql, shape));
            }
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

}  // namespace pgrev::server
