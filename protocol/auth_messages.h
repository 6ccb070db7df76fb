// The authentication messages pgrev itself takes part in when it authenticates to PostgreSQL
// on a client's behalf (SCRAM with channel binding when both legs are TLS, see
// server/auth_relay.h), and the server's mechanism list it edits when the client leg is clear.
// Whole messages: type byte and length included.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::protocol {

// Authentication request codes (the int32 after the 'R' header).
enum class AuthCode : int {
    Ok = 0,
    CleartextPassword = 3,
    Md5Password = 5,
    Sasl = 10,
    SaslContinue = 11,
    SaslFinal = 12,
};

constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";

// AuthenticationSASL's body after the code: mechanism names. Throws ProtocolError.
std::vector<std::string> decode_sasl_mechanisms(std::span<const char> body);
std::string encode_authentication_sasl(const std::vector<std::string>& mechanisms);
// The data of AuthenticationSASLContinue / AuthenticationSASLFinal (body after the code).
std::string_view sasl_data(std::span<const char> body);
std::string encode_authentication_cleartext_password();

// The client's PasswordMessage body: the password up to its terminating zero byte. Throws
// ProtocolError when there is none.
std::string_view decode_password(std::span<const char> body);
std::string encode_sasl_initial_response(std::string_view mechanism, std::string_view data);
std::string encode_sasl_response(std::string_view data);

}  // namespace pgrev::protocol
