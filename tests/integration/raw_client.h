// A bare TCP client for what libpq will not send: silence, garbage, absurd lengths, and
// hand-written startup packets.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgrev::it {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_in(std::chrono::milliseconds timeout) {
    return Clock::now() + timeout;
}

// A port nobody listens on right now (bind to port 0 and ask the kernel).
std::uint16_t free_tcp_port();
// True once 127.0.0.1:port accepts a TCP connection, false at the deadline.
bool wait_until_accepting(std::uint16_t port, Deadline deadline);

// One backend message as read from the wire.
struct BackendMessage {
    char type = 0;
    std::string body;
};

class RawClient {
  public:
    static RawClient connect(std::uint16_t port, Deadline deadline);  // throws on failure

    RawClient(RawClient&& other) noexcept;
    RawClient& operator=(RawClient&&) = delete;
    RawClient(const RawClient&) = delete;
    ~RawClient();

    // False if the peer already closed (EPIPE/ECONNRESET); that is no error for these tests.
    bool send_all(std::string_view bytes);
    // Reads until the peer closes the connection or the deadline passes.
    struct Drain {
        std::string bytes;  // everything received before the close
        bool closed = false;
    };
    Drain read_until_closed(Deadline deadline);
    // Exactly n bytes, or nothing if the connection closed or the deadline passed first.
    std::optional<std::string> read_exact(std::size_t n, Deadline deadline);
    // One typed message ('R', 'S', 'K', 'Z', 'E', ...), or nothing on close/deadline.
    std::optional<BackendMessage> read_message(Deadline deadline);

  private:
    explicit RawClient(int fd) : fd_(fd) {}
    int fd_ = -1;
};

// Frontend packets written by hand.
std::string ssl_request();
std::string gssenc_request();
std::string startup_packet(const std::string& user, const std::string& database,
                           std::uint32_t protocol_version = 196608);  // 3.0
std::string query_message(const std::string& sql);
std::string terminate_message();
std::string be32(std::uint32_t value);

}  // namespace pgrev::it
