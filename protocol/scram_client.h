// The client side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677), as libpq speaks
// it. pgrev runs it itself when both legs are TLS: a client's channel binding would bind to
// pgrev's certificate, so pgrev takes the password from the client (over the client's TLS
// connection) and authenticates to PostgreSQL bound to the real upstream certificate.
// No sockets here: the caller carries the messages in SASLInitialResponse / SASLResponse and
// AuthenticationSASLContinue / AuthenticationSASLFinal.
#pragma once

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgrev::protocol {

// A malformed or hostile server message, a failed server signature, or a call out of order.
// The message names the reason; it never contains the password or a key.
class ScramError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class ScramClient {
  public:
    // channel_binding: tls-server-end-point data (tls_server_end_point() of the server's
    // certificate); empty means no channel binding (gs2 header "n,,", mechanism SCRAM-SHA-256).
    // With it: gs2 header "p=tls-server-end-point,,", mechanism SCRAM-SHA-256-PLUS.
    // The password is the client's, as it typed it; see normalise_password() in the .cpp for
    // what happens to non-ASCII passwords. The caller should wipe its own copies.
    ScramClient(std::string password, std::string channel_binding);
    ~ScramClient();  // wipes password and derived keys (OPENSSL_cleanse)
    ScramClient(const ScramClient&) = delete;
    ScramClient& operator=(const ScramClient&) = delete;

    const char* mechanism() const;
    // "n,,n=,r=<nonce>" or "p=tls-server-end-point,,n=,r=<nonce>". The user name is empty, as
    // libpq sends it: PostgreSQL authenticates the user of the StartupMessage.
    std::string client_first_message();
    // Checks the server-first-message and answers it with the proof. Throws ScramError.
    std::string client_final_message(std::string_view server_first);
    // Checks the server's signature ("v=..."); throws ScramError when it is wrong or the server
    // sent an error ("e=...").
    void verify_server_final(std::string_view server_final);

    // For tests: a fixed client nonce instead of 18 random bytes base64-encoded.
    void set_nonce_for_testing(std::string nonce);
    // For tests: the user name of client-first, so the RFC 7677 vector (n=user) can be checked.
    void set_user_for_testing(std::string user);

  private:
    enum class State { Start, SentFirst, SentFinal, Done };

    std::string password_;
    std::string channel_binding_;
    std::string user_;
    std::string nonce_;
    std::string client_first_bare_;
    std::array<unsigned char, 32> server_signature_{};
    State state_ = State::Start;
};

// RFC 5929 tls-server-end-point: hash of the DER certificate with the hash of its signature
// algorithm (SHA-256 when that is MD5 or SHA-1). Throws ScramError for bad DER / unknown alg.
std::string tls_server_end_point(std::string_view certificate_der);

// Standard base64 (RFC 4648, with padding), as SCRAM uses it. decode throws ScramError on any
// character outside the alphabet, a wrong length or bad padding.
std::string base64_encode(std::string_view bytes);
std::string base64_decode(std::string_view text);

}  // namespace pgrev::protocol
