// Opening a connection to PostgreSQL: resolve (numeric hosts skip the resolver), connect, set
// the socket options a proxy wants, then ask for TLS as tls.upstream.sslmode says.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "server/connection.h"

namespace pgrev::server {

using ConnectHandler = std::function<void(const boost::system::error_code&)>;

// Connects the socket of `connection` (not yet open) to `upstream`; calls `done` once.
void connect_upstream(Connection& connection, const config::Endpoint& upstream,
                      ConnectHandler done);

// TCP_NODELAY (messages are small and latency is everything) and keepalive.
void tune_socket(boost::asio::ip::tcp::socket& socket);

// What the TLS negotiation ended with: `failure` empty means go on (over TLS, or in clear
// where the mode allows it); otherwise it is a sentence for the client's FATAL and the log,
// naming the setting and OpenSSL's reason.
using TlsNegotiated = std::function<void(const std::string& failure)>;

// On a connected socket: SSLRequest and the TLS handshake, with libpq's meaning of `tls`
// (allow goes on in clear unless `insist`: the retry after the server refused a clear
// connection). `context` is null only when the mode is disable. The caller keeps
// `connection` alive until `done`.
void negotiate_upstream_tls(Connection& connection, const config::UpstreamTls& tls,
                            std::shared_ptr<boost::asio::ssl::context> context,
                            const config::Endpoint& upstream, bool insist, TlsNegotiated done);

}  // namespace pgrev::server
