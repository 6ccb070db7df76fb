#include "protocol/startup_packet.h"

#include "protocol/byte_reader.h"

namespace pgrev::protocol {

std::string StartupPacket::parameter(std::string_view name) const {
    for (const auto& [key, value] : parameters) {
        if (key == name) return value;
    }
    return {};
}

std::string StartupPacket::database() const {
    std::string db = parameter("database");
    return db.empty() ? parameter("user") : db;
}

std::optional<std::size_t> startup_packet_length(std::span<const char, 4> prefix) {
    std::size_t length = read_u32_be(prefix.data());
    if (length < 8 || length > kMaxStartupPacketSize) return std::nullopt;
    return length;
}

StartupPacket decode_startup_packet(std::span<const char> packet) {
    ByteReader in(packet);
    std::uint32_t length = in.u32();
    if (length != packet.size()) throw ProtocolError("startup packet length does not match");
    StartupPacket out;
    std::uint32_t code = in.u32();
    switch (code) {
        case kSslRequestCode:
            out.kind = StartupKind::SslRequest;
            in.expect_end("SSLRequest");
            return out;
        case kGssEncRequestCode:
            out.kind = StartupKind::GssEncRequest;
            in.expect_end("GSSENCRequest");
            return out;
        case kCancelRequestCode:
            out.kind = StartupKind::CancelRequest;
            // The key is the rest of the packet. PostgreSQL 18 takes 1 to 256 bytes and lets
            // the key's comparison decide; so does pgrev, forwarding it for the server to judge.
            if (in.remaining() < 4) throw ProtocolError("invalid length of cancel request packet");
            out.cancel.process_id = in.i32();
            if (in.remaining() == 0 || in.remaining() > kMaxCancelSecretSize) {
                throw ProtocolError("invalid length of cancel key in cancel request packet");
            }
            {
                auto secret = in.bytes(in.remaining());
                out.cancel.secret.assign(secret.data(), secret.size());
            }
            return out;
        default:
            break;
    }
    out.kind = StartupKind::Startup;
    out.protocol_version = code;
    if ((code >> 16) != 3) {
        // Version 2 died with PostgreSQL 14; anything else is not PostgreSQL at all. Every
        // minor version of 3 goes on: the server negotiates it (see kProtocolVersion3_2).
        throw UnsupportedProtocol("unsupported frontend protocol " + std::to_string(code >> 16) +
                                  "." + std::to_string(code & 0xffff) +
                                  ": pgrev supports 3.0 to 3.2 and forwards any 3.x");
    }
    // Pairs of NUL-terminated strings, ended by an empty name.
    while (true) {
        std::string_view name = in.cstring();
        if (name.empty()) break;
        std::string_view value = in.cstring();
        out.parameters.emplace_back(std::string(name), std::string(value));
    }
    in.expect_end("StartupMessage");
    if (out.parameter("user").empty()) {
        throw ProtocolError("no PostgreSQL user name specified in startup packet");
    }
    return out;
}

namespace {
void append_u32(std::string& out, std::uint32_t value) {
    char b[4];
    write_u32_be(b, value);
    out.append(b, 4);
}
}  // namespace

std::string encode_cancel_request(const CancelKey& key) {
    std::string out;
    append_u32(out, static_cast<std::uint32_t>(12 + key.secret.size()));
    append_u32(out, kCancelRequestCode);
    append_u32(out, static_cast<std::uint32_t>(key.process_id));
    out.append(key.secret);
    return out;
}

std::string encode_ssl_request() {
    std::string out;
    append_u32(out, 8);
    append_u32(out, kSslRequestCode);
    return out;
}

std::string encode_startup_message(
    const std::vector<std::pair<std::string, std::string>>& parameters,
    std::uint32_t protocol_version) {
    std::string out(4, '\0');
    append_u32(out, protocol_version);
    for (const auto& [name, value] : parameters) {
        out.append(name).push_back('\0');
        out.append(value).push_back('\0');
    }
    out.push_back('\0');
    write_u32_be(out.data(), static_cast<std::uint32_t>(out.size()));
    return out;
}

}  // namespace pgrev::protocol
