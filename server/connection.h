// One side of a session: a TCP socket that may have been upgraded to TLS.
//
// Everything above this class (pumps, startup, authentication) reads and writes bytes without
// knowing which it is. Operations are asynchronous and take type-erased handlers: a session
// makes a handful per round trip, and keeping the Asio templates out of this header keeps
// every file that includes it cheap to compile. One read and one write may be in flight at
// the same time (the two pumps of a session); TLS allows that too.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace boost::asio::ssl {
class context;
template <typename Stream>
class stream;
}  // namespace boost::asio::ssl

namespace pgrev::server {

class Connection {
  public:
    using Socket = boost::asio::ip::tcp::socket;
    using TlsStream = boost::asio::ssl::stream<Socket&>;
    using IoHandler = std::function<void(const boost::system::error_code&, std::size_t)>;
    using DoneHandler = std::function<void(const boost::system::error_code&)>;
    enum class Role { Server, Client };

    explicit Connection(Socket socket);
    explicit Connection(const Socket::executor_type& executor);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    Socket& socket() { return socket_; }
    Socket::executor_type get_executor() { return socket_.get_executor(); }
    bool is_open() const { return socket_.is_open(); }
    bool tls() const { return tls_ != nullptr; }

    // Starts TLS on the open socket. As client, `host` is sent as SNI (unless it is an IP
    // address) and, with `verify_host`, must match the peer's certificate. The context stays
    // referenced for the connection's life. `done` gets OpenSSL's reason in the error code;
    // verify_failure() says more when the certificate check failed.
    void async_start_tls(Role role, std::shared_ptr<boost::asio::ssl::context> context,
                         const std::string& host, bool verify_host, DoneHandler done);
    // Why the peer's certificate was not accepted (expired, hostname mismatch, ...); empty
    // when it was, or when nothing was checked.
    std::string verify_failure() const;
    // Why a handshake that ended with `ec` failed: the certificate check's reason when there
    // is one, else OpenSSL's.
    std::string handshake_failure(const boost::system::error_code& ec) const;
    // "TLSv1.3 TLS_AES_256_GCM_SHA384", or "clear".
    std::string tls_description() const;
    // The TLS handshake agreed on ALPN "postgresql" (PostgreSQL 17's direct TLS).
    bool alpn_is_postgresql() const;
    // The peer's certificate, DER-encoded; empty when there is none.
    std::string peer_certificate_der() const;

    void async_read_some(boost::asio::mutable_buffer buffer, IoHandler done);
    // Whether read_some_now and write_some_now work: in clear only, since a TLS stream may
    // hold decrypted bytes, or bytes read but not yet decrypted, that the socket no longer
    // shows, and writes records.
    bool can_read_now() const { return !tls_; }
    bool can_write_now() const { return !tls_; }
    // What the socket has now, without waiting; in clear only. `ec` is would_block when
    // there is nothing, eof at the orderly end.
    std::size_t read_some_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec);
    // Writes what the socket takes now of `segments` (in order), without waiting; in clear
    // only. `ec` is would_block when it takes nothing.
    std::size_t write_some_now(std::span<const std::span<const char>> segments,
                               boost::system::error_code& ec);
    // Reads exactly buffer.size() bytes.
    void async_read(boost::asio::mutable_buffer buffer, IoHandler done);
    // Writes all of `buffers`; they must stay valid until `done`.
    void async_write(std::vector<boost::asio::const_buffer> buffers, IoHandler done);
    void async_write(boost::asio::const_buffer buffer, IoHandler done);
    void close();
    // Closed and back to a plain socket, to connect again.
    void reset();
    void shutdown();  // both directions, without a TLS close_notify: the peer sees EOF

  private:
    Socket socket_;
    std::shared_ptr<boost::asio::ssl::context> context_;
    std::unique_ptr<TlsStream> tls_;
    // TLS writes one record per buffer: several small segments are gathered into one first.
    std::vector<char> gathered_;
};

// End-of-stream as TLS reports it: a close_notify, or the TCP end without one (most clients
// simply close the socket).
bool is_end_of_stream(const boost::system::error_code& ec);

}  // namespace pgrev::server
