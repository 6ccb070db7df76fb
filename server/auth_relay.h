// The part of authentication pgrev takes part in, between the StartupMessage and the pumps.
//
// pgrev passes authentication through, except where TLS on one leg breaks SCRAM's channel
// binding (README, "Authentication through TLS"):
//   - client leg clear, upstream TLS: the server offers SCRAM-SHA-256-PLUS, which a client on
//     a clear connection must not be offered; pgrev removes it from the list.
//   - both legs TLS: a client would bind to pgrev's certificate, not the server's. pgrev asks
//     the client for the password (over the client's TLS connection only) and runs
//     SCRAM-SHA-256-PLUS with the server itself, bound to the server's real certificate.
// Everything else, and whatever follows the part pgrev handles, is left to the pumps: the
// messages the relay read but does not answer itself are handed over to the server-to-client
// pump as its first bytes, so its handler sees every server message as before.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocol/backend_messages.h"
#include "server/connection.h"

namespace pgrev::protocol {
class ScramClient;
}  // namespace pgrev::protocol

namespace pgrev::server {

struct AuthRelayResult {
    enum class Next {
        Proxy,         // start the pumps; the server-to-client one begins with `server_bytes`
        RetryWithTls,  // the server refused a clear connection (tls.upstream.sslmode allow)
        Fail,          // end the session: `error` (if any) to the client, `reason` to the log
    };
    Next next = Next::Proxy;
    std::string server_bytes;
    std::optional<protocol::PgrevError> error;
    std::string reason;
};

class AuthRelay {
  public:
    using Done = std::function<void(AuthRelayResult)>;

    AuthRelay(Connection& client, Connection& upstream);
    ~AuthRelay();
    AuthRelay(const AuthRelay&) = delete;
    AuthRelay& operator=(const AuthRelay&) = delete;

    // Reads the server's first answers to the StartupMessage. `keep` is held by every pending
    // operation (the session that owns the connections and this relay).
    void start(bool may_retry_with_tls, std::shared_ptr<void> keep, Done done);
    // Drops `keep` and `done` without calling back: for pgrev's stop, once no pending
    // operation will ever complete (ProxyServer::run).
    void abandon() {
        keep_.reset();
        done_ = nullptr;
    }

  private:
    using MessageHandler = std::function<void(char type, std::string message)>;

    void read_message(Connection& from, MessageHandler next);
    void on_server_message(char type, const std::string& message);
    void ask_client_for_password();
    void on_password(char type, std::string message);
    void on_scram_continue(char type, std::string message);
    void on_scram_final(char type, std::string message);
    void on_after_scram(char type, std::string message);
    void finish(AuthRelayResult result);
    void fail(std::string_view sqlstate, std::string_view message, std::string reason);
    void lost(const char* side, const boost::system::error_code& ec);

    Connection& client_;
    Connection& upstream_;
    bool may_retry_ = false;
    std::shared_ptr<void> keep_;
    Done done_;
    std::string before_request_;  // server messages read before its authentication request
    std::array<char, 5> header_{};
    std::string out_;  // bytes of the write in flight
    std::unique_ptr<protocol::ScramClient> scram_;
};

}  // namespace pgrev::server
