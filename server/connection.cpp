#include "server/connection.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <string_view>

namespace pgrev::server {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

Connection::Connection(Socket socket) : socket_(std::move(socket)) {}
Connection::Connection(const Socket::executor_type& executor) : socket_(executor) {}
Connection::~Connection() = default;

bool is_end_of_stream(const boost::system::error_code& ec) {
    return ec == asio::error::eof || ec == ssl::error::stream_truncated;
}

void Connection::async_start_tls(Role role, std::shared_ptr<ssl::context> context,
                                 const std::string& host, bool verify_host, DoneHandler done) {
    context_ = std::move(context);
    tls_ = std::make_unique<TlsStream>(socket_, *context_);
    SSL* handle = tls_->native_handle();
    if (role == Role::Client) {
        boost::system::error_code not_ip;
        asio::ip::make_address(host, not_ip);
        if (not_ip) SSL_set_tlsext_host_name(handle, host.c_str());
        if (verify_host) {
            // libpq's verify-full: a host name matches a DNS name of the certificate (its
            // common name only when it has none); an IP address matches an IP address entry.
            X509_VERIFY_PARAM* param = SSL_get0_param(handle);
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            if (not_ip) {
                X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
            } else {
                X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
            }
        }
    }
    auto type = role == Role::Server ? ssl::stream_base::server : ssl::stream_base::client;
    // On failure the connection is useless (it must not be read in clear either): the caller
    // closes it.
    tls_->async_handshake(type, std::move(done));
}

std::string Connection::verify_failure() const {
    if (!tls_) return {};
    long result = SSL_get_verify_result(tls_->native_handle());
    if (result == X509_V_OK) return {};
    return X509_verify_cert_error_string(result);
}

std::string Connection::handshake_failure(const boost::system::error_code& ec) const {
    std::string reason = verify_failure();
    return reason.empty() ? ec.message() : reason;
}

std::string Connection::tls_description() const {
    if (!tls_) return "clear";
    SSL* handle = tls_->native_handle();
    const char* cipher = SSL_get_cipher_name(handle);
    return std::string(SSL_get_version(handle)) + " " + (cipher ? cipher : "");
}

bool Connection::alpn_is_postgresql() const {
    if (!tls_) return false;
    const unsigned char* selected = nullptr;
    unsigned int length = 0;
    SSL_get0_alpn_selected(tls_->native_handle(), &selected, &length);
    return std::string_view(reinterpret_cast<const char*>(selected), length) == "postgresql";
}

std::string Connection::peer_certificate_der() const {
    if (!tls_) return {};
    X509* cert = SSL_get1_peer_certificate(tls_->native_handle());
    if (cert == nullptr) return {};
    unsigned char* der = nullptr;
    int length = i2d_X509(cert, &der);
    std::string out;
    if (length > 0)
        out.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
    OPENSSL_free(der);
    X509_free(cert);
    return out;
}

void Connection::async_read_some(asio::mutable_buffer buffer, IoHandler done) {
    if (tls_) {
        tls_->async_read_some(buffer, std::move(done));
    } else {
        socket_.async_read_some(buffer, std::move(done));
    }
}

namespace {
// What a failed non-blocking call's errno says: would_block when the socket is not ready.
boost::system::error_code nonblocking_error(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) return asio::error::would_block;
    return {err, asio::error::get_system_category()};
}
}  // namespace

std::size_t Connection::read_some_now(asio::mutable_buffer buffer, boost::system::error_code& ec) {
    ec.clear();
    for (;;) {
        // MSG_DONTWAIT rather than the socket's non-blocking mode: nothing else that uses the
        // socket changes behaviour.
        ssize_t n = ::recv(socket_.native_handle(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) return static_cast<std::size_t>(n);
        if (n == 0) {
            ec = asio::error::eof;
            return 0;
        }
        if (errno == EINTR) continue;
        ec = nonblocking_error(errno);
        return 0;
    }
}

std::size_t Connection::write_some_now(std::span<const std::span<const char>> segments,
                                       boost::system::error_code& ec) {
    ec.clear();
    std::array<iovec, 64> iov;  // NOLINT(cppcoreguidelines-pro-type-member-init): filled below
    std::size_t count = std::min(segments.size(), iov.size());  // the rest: on the next call
    for (std::size_t i = 0; i < count; ++i) {
        // sendmsg does not write through iov_base.
        iov[i].iov_base = const_cast<char*>(segments[i].data());
        iov[i].iov_len = segments[i].size();
    }
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    for (;;) {
        // MSG_NOSIGNAL: a peer gone is an error here, not a SIGPIPE.
        ssize_t n = ::sendmsg(socket_.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        ec = nonblocking_error(errno);
        return 0;
    }
}

void Connection::async_read(asio::mutable_buffer buffer, IoHandler done) {
    if (tls_) {
        asio::async_read(*tls_, buffer, std::move(done));
    } else {
        asio::async_read(socket_, buffer, std::move(done));
    }
}

void Connection::async_write(std::vector<asio::const_buffer> buffers, IoHandler done) {
    if (!tls_) {
        asio::async_write(socket_, buffers, std::move(done));  // Asio keeps a copy
        return;
    }
    if (buffers.size() == 1) return async_write(buffers.front(), std::move(done));
    // OpenSSL makes one record (and Asio one send) per buffer: gathered, a batch of small
    // messages goes out as few records as its size allows.
    std::size_t total = 0;
    for (const auto& b : buffers)
        total += b.size();
    gathered_.resize(total);
    std::size_t at = 0;
    for (const auto& b : buffers) {
        std::memcpy(gathered_.data() + at, b.data(), b.size());
        at += b.size();
    }
    asio::async_write(*tls_, asio::buffer(gathered_), std::move(done));
}

void Connection::async_write(asio::const_buffer buffer, IoHandler done) {
    if (tls_) {
        asio::async_write(*tls_, buffer, std::move(done));
    } else {
        asio::async_write(socket_, buffer, std::move(done));
    }
}

void Connection::close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
}

void Connection::reset() {
    close();
    tls_.reset();
    context_.reset();
}

void Connection::shutdown() {
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
}

}  // namespace pgrev::server
