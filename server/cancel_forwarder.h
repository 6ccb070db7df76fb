// A CancelRequest is forwarded to PostgreSQL on a connection of its own, as the protocol wants.
// pgrev passes BackendKeyData through unchanged (one upstream connection per client), so the
// client's key is the server's key and goes on as it is: 4 bytes of secret in protocol 3.0,
// the server's longer secret (PostgreSQL 18: 32 bytes) when the session speaks 3.2.
//
// The cancel goes over TLS as tls.upstream.sslmode says (prefer: when the server accepts it),
// so that a server that accepts only TLS connections gets it too.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "config/config.h"
#include "protocol/startup_packet.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace pgrev::server {

void forward_cancel_request(boost::asio::io_context& io, const config::Config& config,
                            std::shared_ptr<boost::asio::ssl::context> upstream_tls,
                            const protocol::CancelKey& key, std::string client_name);

}  // namespace pgrev::server
