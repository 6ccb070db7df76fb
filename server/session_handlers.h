// What a session looks at in each direction. Part 1 forwards every message unchanged; the
// handlers only watch the few messages that move the session's state.
#pragma once

#include "protocol/message_stream.h"

namespace pgrev::server {

class ClientSession;

// Client to server.
class ClientMessages : public protocol::MessageHandler {
  public:
    explicit ClientMessages(ClientSession& session) : session_(session) {}
    bool wants_whole(char type) const override;
    void on_message(const protocol::MessageView& message, protocol::Output& out) override;

  private:
    ClientSession& session_;
};

// Server to client.
class ServerMessages : public protocol::MessageHandler {
  public:
    explicit ServerMessages(ClientSession& session) : session_(session) {}
    bool wants_whole(char type) const override;
    void on_message(const protocol::MessageView& message, protocol::Output& out) override;

  private:
    ClientSession& session_;
};

}  // namespace pgrev::server
