// Opening a TCP connection to PostgreSQL: resolve (numeric hosts skip the resolver), connect,
// set the socket options a proxy wants.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>

#include "config/config.h"

namespace pgrev::server {

using ConnectHandler = std::function<void(const boost::system::error_code&)>;

// Connects `socket` (not yet open) to `upstream`; calls `done` once.
void connect_upstream(boost::asio::ip::tcp::socket& socket, const config::Endpoint& upstream,
                      ConnectHandler done);

// TCP_NODELAY (messages are small and latency is everything) and keepalive.
void tune_socket(boost::asio::ip::tcp::socket& socket);

}  // namespace pgrev::server
