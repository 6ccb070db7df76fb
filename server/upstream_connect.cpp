#include "server/upstream_connect.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>

namespace pgrev::server {

namespace asio = boost::asio;
using asio::ip::tcp;

void tune_socket(tcp::socket& socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
}

void connect_upstream(tcp::socket& socket, const config::Endpoint& upstream, ConnectHandler done) {
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
                                                    tcp::resolver::results_type results) {
            if (e) return done(e);
            asio::async_connect(
                socket, results,
                [&socket, done](const boost::system::error_code& ce, const tcp::endpoint&) {
                    if (!ce) tune_socket(socket);
                    done(ce);
                });
        });
}

}  // namespace pgrev::server
