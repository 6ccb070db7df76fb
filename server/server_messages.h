// Server to client: restores the command tag of rewritten statements and keeps the result
// queue in step; everything else passes untouched (big messages stream).
#pragma once

#include "protocol/message_stream.h"
#include "server/query_state.h"

namespace pgrev::server {

class ClientSession;

class ServerMessages : public protocol::MessageHandler {
  public:
    ServerMessages(ClientSession& session, QueryState& state) : session_(session), state_(state) {}
    bool wants_whole(char type) const override;
    bool on_message(const protocol::MessageView& message, protocol::Output& out) override;

  private:
    bool on_answer(const protocol::MessageView& message, protocol::Output& out);

    ClientSession& session_;
    QueryState& state_;
};

}  // namespace pgrev::server
