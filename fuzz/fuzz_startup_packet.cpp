// The packets a client sends before the session starts: the length prefix, then the packet.
// The input is what a client sends; pgrev reads the prefix, then exactly that many bytes.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string_view>

#include "protocol/byte_reader.h"
#include "protocol/startup_packet.h"

using namespace pgrev::protocol;

namespace {
[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_startup_packet: invariant failed: %s\n", what);
    std::abort();
}
#define CHECK(cond)               \
    do {                          \
        if (!(cond)) fail(#cond); \
    } while (false)

void decode(std::span<const char> packet) {
    StartupPacket p;
    try {
        p = decode_startup_packet(packet);
    } catch (const ProtocolError&) {
        return;
    }
    switch (p.kind) {
        case StartupKind::SslRequest:
        case StartupKind::GssEncRequest:
            CHECK(packet.size() == 8);
            break;
        case StartupKind::CancelRequest: {
            // A 1 to 256 byte key since protocol 3.2 (4 bytes in 3.0): 13 to 268 bytes in all.
            CHECK(packet.size() >= 13 && packet.size() <= 12 + kMaxCancelSecretSize);
            CHECK(p.cancel.secret.size() == packet.size() - 12);
            std::string again = encode_cancel_request(p.cancel);
            CHECK(std::string_view(again) == std::string_view(packet.data(), packet.size()));
            break;
        }
        case StartupKind::Startup: {
            CHECK((p.protocol_version >> 16) == 3);
            CHECK(!p.parameter("user").empty());
            (void)p.database();
            if (p.protocol_version == kProtocolVersion3) {
                std::string again = encode_startup_message(p.parameters);
                CHECK(std::string_view(again) == std::string_view(packet.data(), packet.size()));
            }
            break;
        }
    }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const char* bytes = reinterpret_cast<const char*>(data);
    if (size >= 4) {
        std::span<const char, 4> prefix(bytes, 4);
        if (auto length = startup_packet_length(prefix)) {
            CHECK(*length >= 8 && *length <= kMaxStartupPacketSize);
            CHECK(*length == read_u32_be(bytes));
            if (*length <= size) decode({bytes, *length});
        }
    }
    // The decoder on its own must refuse a packet whose prefix disagrees with its size.
    decode({bytes, size});
    return 0;
}
