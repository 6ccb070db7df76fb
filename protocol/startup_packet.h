// The untyped packets a client may send before the session starts: int32 length, int32 code,
// then (for a StartupMessage) name/value pairs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgrev::protocol {

// PostgreSQL refuses startup packets over 10000 bytes (MAX_STARTUP_PACKET_LENGTH); so does pgrev.
constexpr std::size_t kMaxStartupPacketSize = 10000;
constexpr std::uint32_t kProtocolVersion3 = 3u << 16;
constexpr std::uint32_t kSslRequestCode = 80877103;
constexpr std::uint32_t kGssEncRequestCode = 80877104;
constexpr std::uint32_t kCancelRequestCode = 80877102;

enum class StartupKind { SslRequest, GssEncRequest, CancelRequest, Startup };

struct CancelKey {
    std::int32_t process_id = 0;
    std::int32_t secret_key = 0;
};

struct StartupPacket {
    StartupKind kind = StartupKind::Startup;
    std::uint32_t protocol_version = 0;                           // for Startup
    std::vector<std::pair<std::string, std::string>> parameters;  // for Startup, in order
    CancelKey cancel;                                             // for CancelRequest

    // The value of a startup parameter, or empty when absent.
    std::string parameter(std::string_view name) const;
    // PostgreSQL's rule: the database defaults to the user name.
    std::string database() const;
};

// Reads the length prefix once 4 bytes are there. Returns nullopt for a length the protocol does
// not allow (under 8 or over kMaxStartupPacketSize).
std::optional<std::size_t> startup_packet_length(std::span<const char, 4> prefix);

// Decodes a whole packet, length prefix included. Throws ProtocolError when it is malformed.
StartupPacket decode_startup_packet(std::span<const char> packet);

// The packets in their wire form, for tests and for forwarding a cancel.
std::string encode_cancel_request(const CancelKey& key);
std::string encode_startup_message(
    const std::vector<std::pair<std::string, std::string>>& parameters);

}  // namespace pgrev::protocol
