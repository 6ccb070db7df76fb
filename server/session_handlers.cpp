#include "server/session_handlers.h"

#include "protocol/backend_messages.h"
#include "protocol/frontend_messages.h"
#include "server/client_session.h"

namespace pgrev::server {

using namespace pgrev::protocol;

bool ClientMessages::wants_whole(char type) const {
    return type == frontend::kTerminate;
}

void ClientMessages::on_message(const MessageView& message, Output& out) {
    if (message.type == frontend::kTerminate) session_.on_client_terminate();
    out.forward(message.bytes);
}

bool ServerMessages::wants_whole(char type) const {
    return type == backend::kReadyForQuery || type == backend::kErrorResponse;
}

void ServerMessages::on_message(const MessageView& message, Output& out) {
    if (message.type == backend::kReadyForQuery) {
        session_.on_server_ready(decode_ready_for_query(message.body));
    } else if (message.type == backend::kErrorResponse) {
        session_.on_server_error(decode_error_fields(message.body));
    }
    out.forward(message.bytes);
}

}  // namespace pgrev::server
