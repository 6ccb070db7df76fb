// Client to server: the query path. Query and Parse texts that may name an audited table are
// planned (audit/), sent rewritten or refused, and recorded so that results can be matched to
// them; everything else passes untouched (COPY data and big Binds stream). See
// docs/ARCHITECTURE.md, "Life of a client message".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "audit/name_filter.h"
#include "audit/plan_cache.h"
#include "protocol/frontend_messages.h"
#include "protocol/message_stream.h"
#include "server/query_state.h"
#include "server/server_state.h"
#include "server/session_callbacks.h"

namespace pgrev::server {

// `server` gives only what is the same for every session (the configuration and its name
// filters); the catalog and everything else of this session come through `session`.
class ClientMessages : public protocol::MessageHandler {
  public:
    ClientMessages(SessionCallbacks& session, QueryState& state, const ServerState& server)
        : session_(session), state_(state), server_(server) {}

    // The frontend messages this handler reads whole; the rest stream through. A message type
    // the query path must read goes here (fuzz/fuzz_message_stream.cpp follows this list).
    static constexpr protocol::MessageTypeSet kWholeTypes{
        protocol::frontend::kQuery,        protocol::frontend::kParse,
        protocol::frontend::kBind,         protocol::frontend::kExecute,
        protocol::frontend::kClose,        protocol::frontend::kSync,
        protocol::frontend::kFunctionCall, protocol::frontend::kCopyDone,
        protocol::frontend::kCopyFail,     protocol::frontend::kTerminate,
        protocol::frontend::kDescribe};

    bool wants_whole(char type) const override;
    bool on_message(const protocol::MessageView& message, protocol::Output& out) override;
    void on_streamed(char type, std::uint32_t length, protocol::Output& out) override;

    // The catalog read this handler waited for is done (`error` empty) or failed; the message
    // it stopped at comes again next.
    void on_catalog_loaded(std::string error);

  private:
    bool on_query(const protocol::MessageView& m, protocol::Output& out);
    bool on_parse(const protocol::MessageView& m, protocol::Output& out);
    void on_bind(const protocol::MessageView& m, protocol::Output& out);
    void on_describe(const protocol::MessageView& m, protocol::Output& out);
    // An unnamed Parse of a text pgrev may keep prepared (server/own_statements.h): sent as
    // pgrev's statement, or answered without a Parse. False: send it as usual.
    bool parse_kept(const protocol::Parse& p, const audit::PlanPtr& plan, RewrittenStatement info,
                    protocol::Output& out);
    // A simple Query of a text pgrev may keep prepared (its parameterized form): sent as
    // pgrev's statement with the literals bound, answered as the Query. False: send the text.
    bool query_kept(const audit::PlanPtr& plan, std::vector<audit::TagVerb>& fixes,
                    protocol::Output& out);
    // Closes of the statements pgrev no longer keeps.
    void close_retired(protocol::Output& out);
    void retire_on_ddl(std::string_view sql);
    // A text pgrev may keep prepared for a session (server/own_statements.h): one rewritten
    // statement that returns no rows.
    static bool may_keep_prepared(const audit::RewritePlan& plan);

    bool needs_analysis(std::string_view sql);
    // The plan for `sql`, or null when the session must first wait for the catalog.
    audit::PlanPtr plan_for(std::string_view sql);
    // The plan from this thread's cache, by text or by shape, or made (and cached); a refusal
    // when the rewriter fails; null when the catalog must be read first.
    audit::PlanPtr cached_plan(std::string_view sql, const audit::CatalogSnapshot& catalog,
                               bool fresh);
    // plan_for, once no earlier statement may still change how the text reads.
    audit::PlanPtr plan_after_settings(std::string_view sql);
    // Session bookkeeping for a planned text; returns the verb each statement's tag must have.
    std::vector<audit::TagVerb> record(const audit::RewritePlan& plan);
    // A refusal by pgrev: `reason` gets the "pgrev: " prefix.
    audit::PlanPtr refusal(std::string_view sqlstate, std::string_view reason) const;

    SessionCallbacks& session_;
    QueryState& state_;
    const ServerState& server_;
    bool after_load_ = false;  // the next plan uses a catalog read after the message arrived
    // Partitions of audited tables are not in the server-wide name filter.
    std::shared_ptr<const audit::NameFilter> children_filter_;
    std::uint64_t children_generation_ = ~std::uint64_t{0};
    std::string load_error_;
};

}  // namespace pgrev::server
