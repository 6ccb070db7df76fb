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

#include "protocol/byte_reader.h"

namespace pgrev::protocol {

// PostgreSQL refuses startup packets over 10000 bytes (MAX_STARTUP_PACKET_LENGTH); so does pgrev.
constexpr std::size_t kMaxStartupPacketSize = 10000;
// Protocol versions: major << 16 | minor. PostgreSQL 18 speaks 3.0 and 3.2 (3.1 was never
// used); a client may ask for any 3.x, and the server answers a minor version or `_pq_.`
// option it does not know with NegotiateProtocolVersion. pgrev forwards the request as it is
// and lets the server answer, so a client gets the version the server would give it directly.
constexpr std::uint32_t kProtocolVersion3 = 3u << 16;
constexpr std::uint32_t kProtocolVersion3_2 = (3u << 16) | 2;
constexpr std::uint32_t kSslRequestCode = 80877103;
constexpr std::uint32_t kGssEncRequestCode = 80877104;
constexpr std::uint32_t kCancelRequestCode = 80877102;

enum class StartupKind { SslRequest, GssEncRequest, CancelRequest, Startup };

// The cancel key of BackendKeyData and CancelRequest. Its secret is 4 bytes in protocol 3.0;
// since 3.2 it has the length the server chose (PostgreSQL 18 sends 32), at most 256 bytes.
constexpr std::size_t kMaxCancelSecretSize = 256;
struct CancelKey {
    std::int32_t process_id = 0;
    std::string secret;  // raw bytes, forwarded as they are
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

// A StartupMessage of a major version other than 3 (PostgreSQL answers 0A000).
class UnsupportedProtocol : public ProtocolError {
  public:
    using ProtocolError::ProtocolError;
};

// Decodes a whole packet, length prefix included. Throws ProtocolError when it is malformed,
// UnsupportedProtocol for a protocol version no PostgreSQL speaks.
StartupPacket decode_startup_packet(std::span<const char> packet);

// The packets in their wire form: for tests, for forwarding a cancel, for asking PostgreSQL
// for TLS.
std::string encode_cancel_request(const CancelKey& key);
std::string encode_ssl_request();
std::string encode_startup_message(
    const std::vector<std::pair<std::string, std::string>>& parameters,
    std::uint32_t protocol_version = kProtocolVersion3);

}  // namespace pgrev::protocol
