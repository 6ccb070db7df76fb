#include "server/cancel_forwarder.h"

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <memory>

#include "server/upstream_connect.h"

namespace pgrev::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
struct CancelConnection {
    explicit CancelConnection(asio::io_context& io) : socket(io) {}
    tcp::socket socket;
    std::string packet;
    std::string client_name;
};
}  // namespace

void forward_cancel_request(asio::io_context& io, const config::Endpoint& upstream,
                            const protocol::CancelKey& key, std::string client_name) {
    auto c = std::make_shared<CancelConnection>(io);
    c->packet = protocol::encode_cancel_request(key);
    c->client_name = std::move(client_name);
    connect_upstream(c->socket, upstream, [c, upstream](const boost::system::error_code& ec) {
        if (ec) {
            spdlog::warn("{}: cannot forward cancel request: connecting to {} failed: {}",
                         c->client_name, upstream.to_string(), ec.message());
            return;
        }
        asio::async_write(c->socket, asio::buffer(c->packet),
                          [c](const boost::system::error_code& wec, std::size_t) {
                              if (wec) {
                                  spdlog::warn("{}: cannot forward cancel request: {}",
                                               c->client_name, wec.message());
                              } else {
                                  spdlog::info("{}: cancel request forwarded", c->client_name);
                              }
                              // The server closes its end; closing ours now is just as good.
                              boost::system::error_code ignored;
                              c->socket.shutdown(tcp::socket::shutdown_send, ignored);
                          });
    });
}

}  // namespace pgrev::server
