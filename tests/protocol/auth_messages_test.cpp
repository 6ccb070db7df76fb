// The authentication messages pgrev writes and reads itself when TLS on both legs makes it
// take part in SCRAM (server/auth_relay.h), byte for byte as the protocol chapter has them.
#include <doctest/doctest.h>

#include <string>

#include "protocol/auth_messages.h"
#include "protocol/byte_reader.h"

using namespace pgrev::protocol;

namespace {
std::string body_of(const std::string& message, char type) {
    REQUIRE(message.size() >= 5);
    CHECK(message[0] == type);
    CHECK(read_u32_be(message.data() + 1) == message.size() - 1);
    return message.substr(5);
}

std::string i32(std::uint32_t v) {
    std::string out(4, '\0');
    write_u32_be(out.data(), v);
    return out;
}
}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("AuthenticationSASL: the mechanism list, with PLUS removed as pgrev does") {
        std::string server = std::string("R") + i32(4 + 4 + 19 + 14 + 1) + i32(10) +
                             std::string("SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0", 34);
        auto mechanisms = decode_sasl_mechanisms(body_of(server, 'R'));
        REQUIRE(mechanisms.size() == 2);
        CHECK(mechanisms[0] == kScramSha256Plus);
        CHECK(mechanisms[1] == kScramSha256);
        CHECK(encode_authentication_sasl(mechanisms) == server);
        CHECK(encode_authentication_sasl({"SCRAM-SHA-256"}) ==
              std::string("R") + i32(4 + 4 + 14 + 1) + i32(10) +
                  std::string("SCRAM-SHA-256\0\0", 15));
    }

    TEST_CASE("AuthenticationSASL: malformed lists are protocol errors") {
        CHECK_THROWS_AS(decode_sasl_mechanisms(i32(3)), ProtocolError);             // not SASL
        CHECK_THROWS_AS(decode_sasl_mechanisms(i32(10) + "SCRAM"), ProtocolError);  // no NUL
        CHECK_THROWS_AS(decode_sasl_mechanisms(i32(10) + std::string("A\0\0x", 4)),
                        ProtocolError);  // bytes after the list
    }

    TEST_CASE("AuthenticationCleartextPassword and the client's PasswordMessage") {
        CHECK(encode_authentication_cleartext_password() == std::string("R") + i32(8) + i32(3));
        CHECK(decode_password(std::string("s3cret\0", 7)) == "s3cret");
        CHECK_THROWS_AS(decode_password(std::string("no terminator")), ProtocolError);
        CHECK_THROWS_AS(decode_password(std::string("a\0b", 3)), ProtocolError);
    }

    TEST_CASE("SASLInitialResponse, SASLResponse, and the server's SASL data") {
        std::string initial = encode_sasl_initial_response("SCRAM-SHA-256-PLUS", "p=x,,n=,r=abc");
        CHECK(body_of(initial, 'p') ==
              std::string("SCRAM-SHA-256-PLUS\0", 19) + i32(13) + "p=x,,n=,r=abc");
        CHECK(body_of(encode_sasl_response("c=biws,r=abc,p=xyz"), 'p') == "c=biws,r=abc,p=xyz");
        CHECK(sasl_data(i32(11) + "r=abc,s=c2FsdA==,i=4096") == "r=abc,s=c2FsdA==,i=4096");
        CHECK(sasl_data(i32(12)).empty());
    }
}
