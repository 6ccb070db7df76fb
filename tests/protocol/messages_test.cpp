#include <doctest/doctest.h>

#include <string>

#include "protocol/backend_messages.h"
#include "protocol/byte_reader.h"
#include "protocol/frontend_messages.h"
#include "protocol/message_stream.h"

using namespace pgrev::protocol;

namespace {
// The body of a message made by an encoder, after checking its header.
std::string body_of(const std::string& message, char type) {
    REQUIRE(message.size() >= kHeaderSize);
    CHECK(message[0] == type);
    CHECK(read_u32_be(message.data() + 1) == message.size() - 1);
    return message.substr(kHeaderSize);
}
}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("frontend messages round-trip") {
        CHECK(decode_query(body_of(encode_query("select 1; select 2"), 'Q')).sql ==
              "select 1; select 2");

        auto parse_body = body_of(encode_parse({"stmt", "select $1, $2", {23, 25}}), 'P');
        Parse p = decode_parse(parse_body);
        CHECK(p.statement == "stmt");
        CHECK(p.query == "select $1, $2");
        CHECK(p.parameter_types == std::vector<std::uint32_t>{23, 25});

        auto bind_body = body_of(encode_bind("portal", "stmt"), 'B');
        Bind b = decode_bind(bind_body);
        CHECK(b.portal == "portal");
        CHECK(b.statement == "stmt");

        // A Bind renamed keeps its parameters and formats byte for byte.
        std::string with_params = MessageBuilder('B')
                                      .cstring("p")
                                      .cstring("")
                                      .i16(1)
                                      .i16(0)
                                      .i16(1)
                                      .i32(3)
                                      .bytes(std::string_view("abc"))
                                      .i16(0)
                                      .finish();
        std::string original = with_params.substr(kHeaderSize);
        std::string renamed_body =
            body_of(encode_bind_renamed(original, decode_bind(original), "__pgrev_1"), 'B');
        Bind renamed = decode_bind(renamed_body);
        CHECK(renamed.portal == "p");
        CHECK(renamed.statement == "__pgrev_1");
        CHECK(renamed_body.substr(renamed_body.size() - (original.size() - 3)) ==
              original.substr(3));

        auto exec_body = body_of(encode_execute({"p1", 100}), 'E');
        Execute e = decode_execute(exec_body);
        CHECK(e.portal == "p1");
        CHECK(e.max_rows == 100);

        auto close_body = body_of(encode_close({'P', "p1"}), 'C');
        CHECK(decode_close(close_body).kind == 'P');
        CHECK(decode_close(close_body).name == "p1");
        auto describe_body = body_of(encode_describe({'S', ""}), 'D');
        CHECK(decode_describe(describe_body).kind == 'S');
        CHECK(body_of(encode_sync(), 'S').empty());
    }

    TEST_CASE("truncated or inconsistent frontend messages are protocol errors") {
        CHECK_THROWS_AS(decode_query(std::string("no terminator")), ProtocolError);
        CHECK_THROWS_AS(decode_query(std::string("a\0b\0", 4)), ProtocolError);
        // Parse declaring 30000 parameter types but holding none: refused before reserving.
        std::string parse = std::string("s\0q\0", 4) + std::string("\x75\x30", 2);
        CHECK_THROWS_WITH_AS(decode_parse(parse), doctest::Contains("more parameter types"),
                             ProtocolError);
        CHECK_THROWS_AS(decode_parse(std::string("s\0q\0\xff\xff", 6)), ProtocolError);
        CHECK_THROWS_AS(decode_execute(std::string("p\0\0\0", 4)), ProtocolError);
        CHECK_THROWS_AS(decode_close(std::string("Xname\0", 6)), ProtocolError);
        CHECK_THROWS_AS(decode_describe(std::string("S", 1)), ProtocolError);
        CHECK_THROWS_AS(decode_bind(std::string("portal\0", 7)), ProtocolError);
    }

    TEST_CASE("ErrorResponse encodes what pgrev says and decodes what the server says") {
        std::string msg = encode_error_response(
            {"FATAL", "53300", "pgrev: sorry, too many clients already", "detail", ""});
        ErrorFields f = decode_error_fields(body_of(msg, 'E'));
        CHECK(f.severity() == "FATAL");
        CHECK(f.sqlstate() == "53300");
        CHECK(f.message() == "pgrev: sorry, too many clients already");
        CHECK(f.get('D') == "detail");
        CHECK(f.get('H').empty());
        CHECK(f.ends_session());

        // A localized server: 'S' translated, 'V' not.
        std::string server = std::string("SFEHLER\0VERROR\0C42P01\0Mgibt es nicht\0\0", 38);
        ErrorFields g = decode_error_fields(server);
        CHECK(g.severity() == "ERROR");
        CHECK_FALSE(g.ends_session());
        CHECK_THROWS_AS(decode_error_fields(std::string("SERROR\0", 7)), ProtocolError);
    }

    TEST_CASE("small backend messages") {
        CHECK(decode_ready_for_query(body_of(encode_ready_for_query('T'), 'Z')) == 'T');
        CHECK_THROWS_AS(decode_ready_for_query(std::string("Q")), ProtocolError);
        CHECK_THROWS_AS(decode_ready_for_query(std::string("II")), ProtocolError);

        CHECK(decode_command_complete(body_of(encode_command_complete("UPDATE 3"), 'C')) ==
              "UPDATE 3");

        std::string key(8, '\0');
        write_u32_be(key.data(), 4242);
        write_u32_be(key.data() + 4, 0xdeadbeef);
        CancelKey k = decode_backend_key_data(key);
        CHECK(k.process_id == 4242);
        CHECK(k.secret == "\xde\xad\xbe\xef");
        // Protocol 3.2: the server's key may be longer (PostgreSQL 18 sends 32 bytes), up to 256.
        CHECK(decode_backend_key_data(key.substr(0, 4) + std::string(32, 'k')).secret ==
              std::string(32, 'k'));
        CHECK(decode_backend_key_data(key.substr(0, 4) + std::string(256, 'k')).secret.size() ==
              256);
        CHECK_THROWS_AS(decode_backend_key_data(key.substr(0, 4) + std::string(257, 'k')),
                        ProtocolError);
        CHECK_THROWS_AS(decode_backend_key_data(key.substr(0, 7)), ProtocolError);

        auto ps = decode_parameter_status(std::string("TimeZone\0UTC\0", 13));
        CHECK(ps.name == "TimeZone");
        CHECK(ps.value == "UTC");

        std::string auth(4, '\0');
        write_u32_be(auth.data(), 10);
        CHECK(decode_authentication_code(auth) == 10);
    }
}
