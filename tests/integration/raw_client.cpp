#include "raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace pgrev::it {

namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

int remaining_ms(Deadline deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// -1: error or closed, 0: deadline, 1: readable.
int wait_readable(int fd, Deadline deadline) {
    pollfd entry{fd, POLLIN, 0};
    for (;;) {
        int ready = poll(&entry, 1, remaining_ms(deadline));
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return -1;
        return ready == 0 ? 0 : 1;
    }
}

std::uint32_t read_be32(const std::string& bytes) {
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i)
        value = (value << 8) | static_cast<unsigned char>(bytes[i]);
    return value;
}

}  // namespace

std::uint16_t free_tcp_port() {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("socket failed");
    sockaddr_in address = loopback(0);
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        close(fd);
        throw std::runtime_error("bind to port 0 failed");
    }
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

bool wait_until_accepting(std::uint16_t port, Deadline deadline) {
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address = loopback(port);
        bool connected = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        close(fd);
        if (connected) return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

RawClient RawClient::connect(std::uint16_t port, Deadline deadline) {
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) throw std::runtime_error("socket failed");
        sockaddr_in address = loopback(port);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
            return RawClient(fd);
        }
        int error = errno;
        close(fd);
        if (Clock::now() >= deadline) {
            throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port) + ": " +
                                     strerror(error));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

RawClient::RawClient(RawClient&& other) noexcept : fd_(other.fd_) {
    other.fd_ = -1;
}

RawClient::~RawClient() {
    if (fd_ >= 0) close(fd_);
}

bool RawClient::send_all(std::string_view bytes) {
    while (!bytes.empty()) {
        ssize_t sent = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR) continue;
        if (sent <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

RawClient::Drain RawClient::read_until_closed(Deadline deadline) {
    Drain drain;
    char buffer[4096];
    for (;;) {
        int ready = wait_readable(fd_, deadline);
        if (ready == 0) return drain;
        ssize_t received = ready < 0 ? -1 : recv(fd_, buffer, sizeof buffer, 0);
        if (received < 0 && errno == EINTR) continue;
        if (received <= 0) {
            drain.closed = true;  // orderly close, or reset by the peer
            return drain;
        }
        drain.bytes.append(buffer, static_cast<std::size_t>(received));
    }
}

std::optional<std::string> RawClient::read_exact(std::size_t n, Deadline deadline) {
    std::string bytes;
    char buffer[4096];
    while (bytes.size() < n) {
        if (wait_readable(fd_, deadline) != 1) return std::nullopt;
        std::size_t want = std::min(sizeof buffer, n - bytes.size());
        ssize_t received = recv(fd_, buffer, want, 0);
        if (received < 0 && errno == EINTR) continue;
        if (received <= 0) return std::nullopt;
        bytes.append(buffer, static_cast<std::size_t>(received));
    }
    return bytes;
}

std::optional<BackendMessage> RawClient::read_message(Deadline deadline) {
    auto header = read_exact(5, deadline);
    if (!header) return std::nullopt;
    std::uint32_t length = read_be32(header->substr(1));
    if (length < 4 || length > (1u << 30)) return std::nullopt;
    auto body = read_exact(length - 4, deadline);
    if (!body) return std::nullopt;
    return BackendMessage{(*header)[0], *body};
}

std::string be32(std::uint32_t value) {
    std::string bytes(4, '\0');
    for (int i = 0; i < 4; ++i)
        bytes[i] = static_cast<char>((value >> (24 - 8 * i)) & 0xff);
    return bytes;
}

std::string ssl_request() {
    return be32(8) + be32(80877103);
}

std::string gssenc_request() {
    return be32(8) + be32(80877104);
}

std::string startup_packet(const std::string& user, const std::string& database,
                           std::uint32_t protocol_version) {
    std::string body = be32(protocol_version);
    body += std::string("user") + '\0' + user + '\0';
    body += std::string("database") + '\0' + database + '\0';
    body += '\0';
    return be32(static_cast<std::uint32_t>(body.size() + 4)) + body;
}

std::string query_message(const std::string& sql) {
    return "Q" + be32(static_cast<std::uint32_t>(sql.size() + 5)) + sql + '\0';
}

std::string terminate_message() {
    return "X" + be32(4);
}

}  // namespace pgrev::it
