#include "protocol/auth_messages.h"

#include "protocol/byte_reader.h"

namespace pgrev::protocol {

namespace {
constexpr char kAuthentication = 'R';
constexpr char kPasswordMessage = 'p';  // also SASLInitialResponse and SASLResponse
}  // namespace

std::vector<std::string> decode_sasl_mechanisms(std::span<const char> body) {
    ByteReader in(body);
    if (in.i32() != static_cast<int>(AuthCode::Sasl)) {
        throw ProtocolError("not an AuthenticationSASL message");
    }
    std::vector<std::string> mechanisms;
    while (true) {
        std::string_view name = in.cstring();
        if (name.empty()) break;
        mechanisms.emplace_back(name);
    }
    in.expect_end("AuthenticationSASL");
    return mechanisms;
}

std::string encode_authentication_sasl(const std::vector<std::string>& mechanisms) {
    MessageBuilder out(kAuthentication);
    out.i32(static_cast<int>(AuthCode::Sasl));
    for (const auto& m : mechanisms)
        out.cstring(m);
    out.u8(0);
    return out.finish();
}

std::string_view sasl_data(std::span<const char> body) {
    ByteReader in(body);
    in.i32();
    auto rest = in.bytes(in.remaining());
    return {rest.data(), rest.size()};
}

std::string encode_authentication_cleartext_password() {
    return MessageBuilder(kAuthentication)
        .i32(static_cast<int>(AuthCode::CleartextPassword))
        .finish();
}

std::string_view decode_password(std::span<const char> body) {
    ByteReader in(body);
    std::string_view password = in.cstring();
    in.expect_end("PasswordMessage");
    return password;
}

std::string encode_sasl_initial_response(std::string_view mechanism, std::string_view data) {
    return MessageBuilder(kPasswordMessage)
        .cstring(mechanism)
        .i32(static_cast<std::int32_t>(data.size()))
        .bytes(std::span<const char>(data.data(), data.size()))
        .finish();
}

std::string encode_sasl_response(std::string_view data) {
    return MessageBuilder(kPasswordMessage)
        .bytes(std::span<const char>(data.data(), data.size()))
        .finish();
}

}  // namespace pgrev::protocol
