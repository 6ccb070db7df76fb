#include "server/auth_relay.h"

#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <span>

#include "protocol/auth_messages.h"
#include "protocol/byte_reader.h"
#include "protocol/pgrev_message.h"
#include "protocol/scram_client.h"
#include "protocol/sqlstate.h"

namespace pgrev::server {

namespace asio = boost::asio;
using protocol::AuthCode;

namespace {

// PostgreSQL's own limit for an authentication message (a password, SASL data).
constexpr std::size_t kMaxAuthMessage = 64 * 1024;
constexpr char kAuthentication = 'R';
constexpr char kErrorResponse = 'E';
constexpr char kNegotiateProtocolVersion = 'v';
constexpr char kPasswordMessage = 'p';

std::span<const char> body_of(const std::string& message) {
    return std::span<const char>(message.data() + 5, message.size() - 5);
}

AuthCode code_of(const std::string& message) {
    return static_cast<AuthCode>(protocol::decode_authentication_code(body_of(message)));
}

// Overwrites a string that held a password before it is freed.
void wipe(std::string& secret) {
    OPENSSL_cleanse(secret.data(), secret.size());
    secret.clear();
}

}  // namespace

AuthRelay::AuthRelay(Connection& client, Connection& upstream)
    : client_(client), upstream_(upstream) {}

AuthRelay::~AuthRelay() = default;

void AuthRelay::start(bool may_retry_with_tls, std::shared_ptr<void> keep, Done done) {
    may_retry_ = may_retry_with_tls;
    keep_ = std::move(keep);
    done_ = std::move(done);
    before_request_.clear();
    read_message(upstream_, [this](char t, const std::string& m) { on_server_message(t, m); });
}

void AuthRelay::read_message(Connection& from, MessageHandler next) {
    const char* side = &from == &client_ ? "client" : "server";
    from.async_read(asio::buffer(header_), [this, &from, side, next = std::move(next)](
                                               const boost::system::error_code& ec, std::size_t) {
        if (ec) return lost(side, ec);
        std::uint32_t length = protocol::read_u32_be(header_.data() + 1);
        if (length < 4 || length > kMaxAuthMessage) {
            return fail(sqlstate::kProtocolViolation,
                        std::string("invalid authentication message from the ") + side +
                            " (length " + std::to_string(length) + ")",
                        std::string("invalid authentication message from the ") + side);
        }
        auto message = std::make_shared<std::string>(header_.data(), header_.size());
        message->resize(1 + length);
        from.async_read(
            asio::buffer(message->data() + 5, length - 4),
            [this, side, message, next](const boost::system::error_code& rec, std::size_t) {
                if (rec) return lost(side, rec);
                try {
                    char type = (*message)[0];
                    next(type, std::move(*message));
                } catch (const std::exception& e) {
                    fail(sqlstate::kProtocolViolation,
                         std::string("invalid authentication message from the ") + side + ": " +
                             e.what(),
                         std::string("invalid authentication message from the ") + side);
                }
            });
    });
}

void AuthRelay::on_server_message(char type, const std::string& message) {
    if (type == kNegotiateProtocolVersion) {
        // Comes before the authentication request; the client gets it in its place.
        before_request_ += message;
        return read_message(upstream_,
                            [this](char t, const std::string& m) { on_server_message(t, m); });
    }
    if (type == kErrorResponse && may_retry_ && !upstream_.tls()) {
        return finish({AuthRelayResult::Next::RetryWithTls, {}, {}, "server refused clear"});
    }
    if (type != kAuthentication || code_of(message) != AuthCode::Sasl) {
        return finish({AuthRelayResult::Next::Proxy, before_request_ + message, {}, {}});
    }
    std::vector<std::string> mechanisms = protocol::decode_sasl_mechanisms(body_of(message));
    auto plus = std::find(mechanisms.begin(), mechanisms.end(), protocol::kScramSha256Plus);
    if (plus == mechanisms.end()) {
        return finish({AuthRelayResult::Next::Proxy, before_request_ + message, {}, {}});
    }
    if (!client_.tls()) {
        // A clear client must not be offered channel binding (libpq refuses such a list on a
        // clear connection); without it, it sends gs2 flag 'n', which the server accepts.
        mechanisms.erase(plus);
        return finish({AuthRelayResult::Next::Proxy,
                       before_request_ + protocol::encode_authentication_sasl(mechanisms),
                       {},
                       {}});
    }
    ask_client_for_password();
}

void AuthRelay::ask_client_for_password() {
    out_ = before_request_ + protocol::encode_authentication_cleartext_password();
    before_request_.clear();
    client_.async_write(
        asio::buffer(out_), [this](const boost::system::error_code& ec, std::size_t) {
            if (ec) return lost("client", ec);
            read_message(client_, [this](char t, std::string m) { on_password(t, std::move(m)); });
        });
}

void AuthRelay::on_password(char type, std::string message) {
    if (type != kPasswordMessage) {
        wipe(message);
        return fail(sqlstate::kProtocolViolation, "expected a password message",
                    "client sent another message when asked for its password");
    }
    std::string password;
    std::string binding;
    try {
        password = std::string(protocol::decode_password(body_of(message)));
        wipe(message);
        binding = protocol::tls_server_end_point(upstream_.peer_certificate_der());
    } catch (const std::exception& e) {
        wipe(message);
        wipe(password);
        return fail(sqlstate::kConnectionFailure,
                    std::string("cannot bind SCRAM to the server's certificate: ") + e.what(),
                    "SCRAM channel binding failed");
    }
    scram_ = std::make_unique<protocol::ScramClient>(std::move(password), std::move(binding));
    wipe(password);
    out_ =
        protocol::encode_sasl_initial_response(scram_->mechanism(), scram_->client_first_message());
    upstream_.async_write(
        asio::buffer(out_), [this](const boost::system::error_code& ec, std::size_t) {
            if (ec) return lost("server", ec);
            read_message(upstream_,
                         [this](char t, std::string m) { on_scram_continue(t, std::move(m)); });
        });
}

void AuthRelay::on_scram_continue(char type, std::string message) {
    if (type != kAuthentication || code_of(message) != AuthCode::SaslContinue) {
        // An ErrorResponse (the pump forwards it, and the server closes), or something the
        // client would not understand either.
        return finish({AuthRelayResult::Next::Proxy, std::move(message), {}, {}});
    }
    std::string reply;
    try {
        reply = scram_->client_final_message(protocol::sasl_data(body_of(message)));
    } catch (const std::exception& e) {
        return fail(sqlstate::kConnectionFailure,
                    std::string("SCRAM exchange with the PostgreSQL server failed: ") + e.what(),
                    "SCRAM exchange failed");
    }
    out_ = protocol::encode_sasl_response(reply);
    upstream_.async_write(asio::buffer(out_), [this](const boost::system::error_code& ec,
                                                     std::size_t) {
        if (ec) return lost("server", ec);
        read_message(upstream_, [this](char t, std::string m) { on_scram_final(t, std::move(m)); });
    });
}

void AuthRelay::on_scram_final(char type, std::string message) {
    if (type != kAuthentication || code_of(message) != AuthCode::SaslFinal) {
        return finish({AuthRelayResult::Next::Proxy, std::move(message), {}, {}});
    }
    try {
        scram_->verify_server_final(protocol::sasl_data(body_of(message)));
    } catch (const std::exception& e) {
        // The server does not know the password: it is not the server the client meant.
        return fail(
            sqlstate::kInvalidAuthorizationSpecification,
            std::string("the PostgreSQL server failed to prove it knows the password: ") + e.what(),
            "SCRAM server signature rejected");
    }
    scram_.reset();
    read_message(upstream_, [this](char t, std::string m) { on_after_scram(t, std::move(m)); });
}

void AuthRelay::on_after_scram(char /*type*/, std::string message) {
    // AuthenticationOk (or an error): from here on the pumps carry everything.
    finish({AuthRelayResult::Next::Proxy, std::move(message), {}, {}});
}

void AuthRelay::fail(std::string_view sqlstate, std::string_view message, std::string reason) {
    finish({AuthRelayResult::Next::Fail,
            {},
            protocol::pgrev_fatal(sqlstate, message),
            std::move(reason)});
}

void AuthRelay::lost(const char* side, const boost::system::error_code& ec) {
    std::string reason = std::string(side) + " closed the connection during authentication";
    if (!is_end_of_stream(ec)) reason += " (" + ec.message() + ")";
    if (std::string_view(side) == "client" && scram_ == nullptr && client_.tls()) {
        // libpq with channel_binding=require ends here: pgrev asked for the password.
        reason +=
            "; a client with channel_binding=require cannot authenticate through pgrev "
            "when both legs are TLS (README, \"Authentication through TLS\")";
    }
    AuthRelayResult result{AuthRelayResult::Next::Fail, {}, {}, reason};
    if (std::string_view(side) == "server") {
        result.error = protocol::pgrev_fatal(
            sqlstate::kConnectionFailure,
            "lost the connection to the PostgreSQL server during authentication");
    }
    finish(std::move(result));
}

void AuthRelay::finish(AuthRelayResult result) {
    scram_.reset();
    wipe(out_);
    auto done = std::move(done_);
    auto keep = std::move(keep_);  // released when this call returns
    if (done) done(std::move(result));
}

}  // namespace pgrev::server
