#include <doctest/doctest.h>

#include <array>
#include <string>

#include "protocol/byte_reader.h"
#include "protocol/startup_packet.h"

using namespace pgrev::protocol;

namespace {
std::string packet(std::uint32_t code, const std::string& rest = {}) {
    std::string p(8, '\0');
    write_u32_be(p.data(), static_cast<std::uint32_t>(8 + rest.size()));
    write_u32_be(p.data() + 4, code);
    return p + rest;
}
}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("SSLRequest, GSSENCRequest and CancelRequest are recognised") {
        CHECK(decode_startup_packet(packet(kSslRequestCode)).kind == StartupKind::SslRequest);
        CHECK(decode_startup_packet(packet(kGssEncRequestCode)).kind == StartupKind::GssEncRequest);
        auto cancel = decode_startup_packet(encode_cancel_request({1234, "\xff\xff\xff\x9d"}));
        CHECK(cancel.kind == StartupKind::CancelRequest);
        CHECK(cancel.cancel.process_id == 1234);
        CHECK(cancel.cancel.secret == "\xff\xff\xff\x9d");
        CHECK(encode_cancel_request(cancel.cancel) ==
              packet(kCancelRequestCode, std::string("\0\0\x04\xd2\xff\xff\xff\x9d", 8)));
    }

    TEST_CASE("a CancelRequest of protocol 3.2 carries the server's longer key, as it is") {
        // libpq 18 with max_protocol_version=latest: PostgreSQL 18 sends a 32-byte key.
        std::string secret;
        for (int i = 0; i < 32; ++i)
            secret.push_back(static_cast<char>(i * 37));
        std::string wire = packet(kCancelRequestCode, std::string("\0\0\x30\x39", 4) + secret);
        auto cancel = decode_startup_packet(wire);
        CHECK(cancel.kind == StartupKind::CancelRequest);
        CHECK(cancel.cancel.process_id == 12345);
        CHECK(cancel.cancel.secret == secret);
        CHECK(encode_cancel_request(cancel.cancel) == wire);  // forwarded byte for byte
        // PostgreSQL 18's bounds (ProcessCancelRequestPacket): 1 to 256 bytes of key.
        for (std::size_t size : {1u, 4u, 256u}) {
            CAPTURE(size);
            CHECK(decode_startup_packet(encode_cancel_request({7, std::string(size, 'k')}))
                      .cancel.secret.size() == size);
        }
        CHECK_THROWS_WITH_AS(
            decode_startup_packet(encode_cancel_request({7, std::string(257, 'k')})),
            doctest::Contains("invalid length of cancel key"), ProtocolError);
        CHECK_THROWS_WITH_AS(decode_startup_packet(encode_cancel_request({7, ""})),
                             doctest::Contains("invalid length of cancel key"), ProtocolError);
        CHECK_THROWS_WITH_AS(decode_startup_packet(packet(kCancelRequestCode, "\0\0")),
                             doctest::Contains("invalid length of cancel request"), ProtocolError);
    }

    TEST_CASE("every minor version of protocol 3 is taken, for the server to negotiate") {
        for (std::uint32_t minor : {0u, 1u, 2u, 3u, 0xffffu}) {
            CAPTURE(minor);
            auto p = decode_startup_packet(encode_startup_message(
                {{"user", "alice"}, {"_pq_.future_option", "on"}}, (3u << 16) | minor));
            CHECK(p.kind == StartupKind::Startup);
            CHECK(p.protocol_version == ((3u << 16) | minor));
            // `_pq_.` options stay in the packet: the server answers them.
            CHECK(p.parameter("_pq_.future_option") == "on");
        }
        CHECK(kProtocolVersion3_2 == 196610u);
        CHECK_THROWS_WITH_AS(
            decode_startup_packet(encode_startup_message({{"user", "a"}}, 4u << 16)),
            doctest::Contains("unsupported frontend protocol 4.0"), UnsupportedProtocol);
    }

    TEST_CASE("a StartupMessage keeps its parameters in order") {
        auto p = decode_startup_packet(encode_startup_message(
            {{"user", "alice"}, {"database", "app"}, {"application_name", "psql"}}));
        CHECK(p.kind == StartupKind::Startup);
        CHECK(p.protocol_version == kProtocolVersion3);
        REQUIRE(p.parameters.size() == 3);
        CHECK(p.parameters[2].first == "application_name");
        CHECK(p.parameter("user") == "alice");
        CHECK(p.database() == "app");
        CHECK(p.parameter("options").empty());
    }

    TEST_CASE("the database defaults to the user name, as in PostgreSQL") {
        auto p = decode_startup_packet(encode_startup_message({{"user", "bob"}}));
        CHECK(p.database() == "bob");
    }

    TEST_CASE("malformed startup packets are refused with a reason") {
        // Protocol 2.0
        CHECK_THROWS_AS(decode_startup_packet(packet(2u << 16, std::string("user\0x\0\0", 8))),
                        UnsupportedProtocol);
        // No user
        CHECK_THROWS_WITH_AS(decode_startup_packet(encode_startup_message({{"database", "d"}})),
                             doctest::Contains("no PostgreSQL user name"), ProtocolError);
        // Missing terminator
        CHECK_THROWS_AS(decode_startup_packet(packet(kProtocolVersion3, std::string("user\0a", 6))),
                        ProtocolError);
        // Trailing bytes after the terminator
        CHECK_THROWS_AS(
            decode_startup_packet(packet(kProtocolVersion3, std::string("user\0a\0\0junk", 11))),
            ProtocolError);
        // SSLRequest with a body
        CHECK_THROWS_AS(decode_startup_packet(packet(kSslRequestCode, "xx")), ProtocolError);
        // Length prefix that disagrees with the bytes
        std::string p = packet(kSslRequestCode);
        write_u32_be(p.data(), 12);
        CHECK_THROWS_AS(decode_startup_packet(p), ProtocolError);
    }

    TEST_CASE("startup lengths are bounded before anything is allocated") {
        auto len = [](std::uint32_t n) {
            std::array<char, 4> b{};
            write_u32_be(b.data(), n);
            return startup_packet_length(std::span<const char, 4>(b));
        };
        CHECK(len(8) == 8u);
        CHECK(len(10000) == 10000u);
        CHECK_FALSE(len(7).has_value());
        CHECK_FALSE(len(10001).has_value());
        CHECK_FALSE(len(0xffffffffu).has_value());
    }
}
