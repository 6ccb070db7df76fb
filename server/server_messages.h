// Server to client: restores the command tag and the error of rewritten statements, confirms
// the changes of the session's books, follows the settings the server reports (ParameterStatus)
// and keeps the result queue in step; everything else passes untouched (big messages stream).
// See docs/ARCHITECTURE.md, "Life of a client message" and "Result queue".
#pragma once

#include "protocol/backend_messages.h"
#include "protocol/message_stream.h"
#include "server/query_state.h"
#include "server/session_callbacks.h"

namespace pgrev::server {

class ServerMessages : public protocol::MessageHandler {
  public:
    ServerMessages(SessionCallbacks& session, QueryState& state)
        : session_(session), state_(state) {}

    // The backend messages this handler reads whole; the rest (rows above all) stream through
    // (fuzz/fuzz_message_stream.cpp follows this list).
    static constexpr protocol::MessageTypeSet kWholeTypes{
        protocol::backend::kCommandComplete, protocol::backend::kEmptyQueryResponse,
        protocol::backend::kPortalSuspended, protocol::backend::kParseComplete,
        protocol::backend::kCloseComplete,   protocol::backend::kCopyInResponse,
        protocol::backend::kErrorResponse,   protocol::backend::kReadyForQuery,
        protocol::backend::kParameterStatus, protocol::backend::kBindComplete,
        protocol::backend::kNoData};

    bool wants_whole(char type) const override;
    void on_streamed(char type, std::uint32_t length, protocol::Output& out) override;
    bool on_message(const protocol::MessageView& message, protocol::Output& out) override;

  private:
    bool on_answer(const protocol::MessageView& message, protocol::Output& out);
    // Puts out the RowDescription held for a kept Query (QueryState), if one is.
    void release_row_description(protocol::Output& out);

    SessionCallbacks& session_;
    QueryState& state_;
};

}  // namespace pgrev::server
