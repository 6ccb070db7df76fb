#include "server/upstream_connect.h"

#include <fmt/format.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>

#include "protocol/startup_packet.h"

namespace pgrev::server {

namespace asio = boost::asio;
using asio::ip::tcp;
using config::UpstreamTlsMode;

void tune_socket(tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
}

void connect_upstream(Connection& connection, const config::Endpoint& upstream,
                      ConnectHandler done) {
    tcp::socket& socket = connection.socket();
    boost::system::error_code ec;
    auto address = asio::ip::make_address(upstream.host, ec);
    if (!ec) {
        socket.async_connect(tcp::endpoint(address, upstream.port),
                             [&socket, done = std::move(done)](const boost::system::error_code& e) {
                                 if (!e) tune_socket(socket);
                                 done(e);
                             });
        return;
    }
    auto resolver = std::make_shared<tcp::resolver>(socket.get_executor());
    resolver->async_resolve(
        upstream.host, std::to_string(upstream.port),
        [&socket, resolver, done = std::move(done)](const boost::system::error_code& e,
                                                    const tcp::resolver::results_type& results) {
            if (e) return done(e);
            asio::async_connect(
                socket, results,
                [&socket, done](const boost::system::error_code& ce, const tcp::endpoint&) {
                    if (!ce) tune_socket(socket);
                    done(ce);
                });
        });
}

namespace {

struct Negotiation {
    std::string request = protocol::encode_ssl_request();
    char answer = 0;
};

bool must_use_tls(UpstreamTlsMode mode) {
    return mode == UpstreamTlsMode::Require || mode == UpstreamTlsMode::VerifyCa ||
           mode == UpstreamTlsMode::VerifyFull;
}

}  // namespace

void negotiate_upstream_tls(Connection& connection, const config::UpstreamTls& tls,
                            std::shared_ptr<asio::ssl::context> context,
                            const config::Endpoint& upstream, bool insist, TlsNegotiated done) {
    if (tls.sslmode == UpstreamTlsMode::Disable ||
        (tls.sslmode == UpstreamTlsMode::Allow && !insist)) {
        return done({});
    }
    std::string setting =
        fmt::format("tls.upstream.sslmode = {}", config::sslmode_name(tls.sslmode));
    std::string server = "the PostgreSQL server at " + upstream.to_string();
    auto state = std::make_shared<Negotiation>();
    connection.async_write(
        asio::buffer(state->request),
        [&connection, &tls, context = std::move(context), state, setting, server, insist,
         done = std::move(done),
         host = upstream.host](const boost::system::error_code& ec, std::size_t) mutable {
            if (ec)
                return done(fmt::format("lost the connection to {} while asking for TLS: {}",
                                        server, ec.message()));
            connection.async_read(
                asio::buffer(&state->answer, 1),
                [&connection, &tls, context = std::move(context), state, setting, server, insist,
                 done = std::move(done),
                 host](const boost::system::error_code& rec, std::size_t) mutable {
                    if (rec) {
                        return done(
                            fmt::format("lost the connection to {} while asking for TLS: {}",
                                        server, rec.message()));
                    }
                    if (state->answer == 'N') {
                        if (must_use_tls(tls.sslmode) || insist) {
                            return done(
                                fmt::format("{} does not accept TLS ({})", server, setting));
                        }
                        return done({});
                    }
                    if (state->answer != 'S') {
                        return done(
                            fmt::format("{} answered the request for TLS with an unexpected "
                                        "byte ({})",
                                        server, setting));
                    }
                    bool verify_host = tls.sslmode == UpstreamTlsMode::VerifyFull;
                    connection.async_start_tls(
                        Connection::Role::Client, std::move(context), host, verify_host,
                        [&connection, setting, server,
                         done = std::move(done)](const boost::system::error_code& hec) {
                            if (!hec) return done({});
                            done(fmt::format("TLS connection to {} failed ({}): {}", server,
                                             setting, connection.handshake_failure(hec)));
                        });
                });
        });
}

}  // namespace pgrev::server
