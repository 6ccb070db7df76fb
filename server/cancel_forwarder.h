// A CancelRequest is forwarded to PostgreSQL on a connection of its own, as the protocol wants.
// pgrev passes BackendKeyData through unchanged (one upstream connection per client), so the
// client's key is the server's key and goes on as it is: 4 bytes of secret in protocol 3.0,
// the server's longer secret (PostgreSQL 18: 32 bytes) when the session speaks 3.2.
#pragma once

#include <boost/asio/io_context.hpp>
#include <string>

#include "config/config.h"
#include "protocol/startup_packet.h"

namespace pgrev::server {

void forward_cancel_request(boost::asio::io_context& io, const config::Endpoint& upstream,
                            const protocol::CancelKey& key, std::string client_name);

}  // namespace pgrev::server
