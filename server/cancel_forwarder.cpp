#include "server/cancel_forwarder.h"

#include <spdlog/spdlog.h>

#include <boost/asio/buffer.hpp>
#include <memory>

#include "server/connection.h"
#include "server/upstream_connect.h"

namespace pgrev::server {

namespace asio = boost::asio;

namespace {
struct CancelConnection {
    explicit CancelConnection(asio::io_context& io) : connection(io.get_executor()) {}
    Connection connection;
    std::string packet;
    std::string client_name;
};

void send_cancel(const std::shared_ptr<CancelConnection>& c) {
    c->connection.async_write(
        asio::buffer(c->packet), [c](const boost::system::error_code& ec, std::size_t) {
            if (ec) {
                spdlog::warn("{}: cannot forward cancel request: {}", c->client_name, ec.message());
            } else {
                spdlog::info("{}: cancel request forwarded ({})", c->client_name,
                             c->connection.tls() ? "TLS" : "clear");
            }
            // The server closes its end; closing ours now is as good.
            c->connection.shutdown();
        });
}
}  // namespace

void forward_cancel_request(asio::io_context& io, const config::Config& config,
                            std::shared_ptr<asio::ssl::context> upstream_tls,
                            const protocol::CancelKey& key, std::string client_name) {
    auto c = std::make_shared<CancelConnection>(io);
    c->packet = protocol::encode_cancel_request(key);
    c->client_name = std::move(client_name);
    const config::Endpoint& upstream = config.upstream;
    connect_upstream(
        c->connection, upstream,
        [c, &config,
         upstream_tls = std::move(upstream_tls)](const boost::system::error_code& ec) mutable {
            if (ec) {
                spdlog::warn(
                    "{}: cannot forward cancel request: connecting to {} "
                    "failed: {}",
                    c->client_name, config.upstream.to_string(), ec.message());
                return;
            }
            // A cancel is never retried in clear: allow sends it in clear at once.
            negotiate_upstream_tls(c->connection, config.tls.upstream, std::move(upstream_tls),
                                   config.upstream, false, [c](const std::string& failure) {
                                       if (!failure.empty()) {
                                           spdlog::warn("{}: cannot forward cancel request: {}",
                                                        c->client_name, failure);
                                           return;
                                       }
                                       send_cancel(c);
                                   });
        });
}

}  // namespace pgrev::server
