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
        auto cancel = decode_startup_packet(encode_cancel_request({1234, -99}));
        CHECK(cancel.kind == StartupKind::CancelRequest);
        CHECK(cancel.cancel.process_id == 1234);
        CHECK(cancel.cancel.secret_key == -99);
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
                        ProtocolError);
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
