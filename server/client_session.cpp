#include "server/client_session.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>

#include "protocol/byte_reader.h"
#include "protocol/pgrev_message.h"
#include "protocol/sqlstate.h"
#include "server/cancel_forwarder.h"
#include "server/catalog_service.h"
#include "server/upstream_connect.h"

namespace pgrev::server {

namespace asio = boost::asio;
using protocol::PgrevError;

namespace {

std::string endpoint_text(const ClientSession::Socket& socket) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) return "unknown address";
    return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

constexpr std::size_t kMaxAuthMessageSize = 64 * 1024;

PgrevError fatal(std::string_view sqlstate, std::string_view message) {
    return protocol::pgrev_fatal(sqlstate, message);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

ClientSession::ClientSession(Socket client, ServerState& state)
    : client_(std::move(client)),
      upstream_(client_.get_executor()),
      state_(state),
      config_(state.config),
      tls_(state.tls->current()),
      id_(state.next_session_id.fetch_add(1)),
      client_address_(endpoint_text(client_.socket())),
      client_messages_(*this, query_state_, state),
      server_messages_(*this, query_state_),
      auth_relay_(client_, upstream_),
      // Until authenticated, a client sends only small messages (PostgreSQL's own limit for
      // a password or SASL message is 64 kB); the configured limit applies after.
      client_to_server_(client_, upstream_,
                        std::min(config_.limits.max_message_size, kMaxAuthMessageSize),
                        client_messages_),
      // The server is trusted with any length the protocol allows; its big messages stream.
      server_to_client_(upstream_, client_, std::size_t{1} << 31, server_messages_),
      startup_timer_(client_.get_executor()),
      idle_timer_(client_.get_executor()),
      opened_at_(std::chrono::steady_clock::now()) {}

ClientSession::~ClientSession() {
    if (counted_) {
        state_.active_sessions.fetch_sub(1);
        spdlog::info("{}: closed after {:.3f}s: {} (client sent {} B, server sent {} B)",
                     describe(), seconds_since(opened_at_),
                     close_reason_.empty() ? "done" : close_reason_, client_to_server_.bytes_read(),
                     server_to_client_.bytes_read());
    }
    state_.open_connections.fetch_sub(1);
}

void ClientSession::release_at_stop() {
    if (close_reason_.empty()) close_reason_ = "pgrev stopped";
    auth_relay_.abandon();
    client_to_server_.abandon();
    server_to_client_.abandon();
}

std::string ClientSession::describe() const {
    if (startup_.parameters.empty()) return fmt::format("client {}", client_address_);
    return fmt::format("session {} ({} user={} database={})", id_, client_address_,
                       startup_.parameter("user"), startup_.database());
}

void ClientSession::start() {
    tune_socket(client_.socket());
    arm_startup_timer();
    read_startup_packet();
}

void ClientSession::arm_startup_timer() {
    startup_timer_.expires_after(config_.limits.startup_timeout);
    startup_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->phase_ == State::Ready || self->phase_ == State::Closing) return;
        spdlog::warn("{}: closed: startup not finished within limits.startup_timeout ({} ms)",
                     self->describe(), self->config_.limits.startup_timeout.count());
        PgrevError error = fatal(sqlstate::kConnectionFailure,
                                 "startup did not finish in time "
                                 "(limits.startup_timeout)");
        if (self->phase_ == State::Authenticating && !self->server_to_client_.running()) {
            // The AuthRelay has an operation in flight, maybe a write to the client: cancel
            // it, and on_auth_relay_done writes the error once nothing else writes.
            self->startup_timed_out_ = true;
            boost::system::error_code ignored;
            self->client_.socket().cancel(ignored);
            self->upstream_.socket().cancel(ignored);
            return;
        }
        if (self->phase_ == State::Authenticating) {
            // The pumps run: the server-to-client one writes the error between messages.
            return self->terminate(error, "startup timeout");
        }
        self->upstream_.close();
        if (self->client_tls_handshaking_) {
            // No message can go out before the handshake is done.
            self->close_reason_ = "startup timeout";
            self->phase_ = State::Closing;
            self->client_.close();
            return;
        }
        self->refuse_startup(error, "startup timeout");
    });
}

// --- Startup: untyped packets, read exactly so that nothing after them is consumed. ---

void ClientSession::read_startup_packet() {
    if (tls_->for_clients && !client_.tls() && !direct_tls_checked_) return detect_direct_tls();
    startup_buffer_.resize(4);
    client_.async_read(
        asio::buffer(startup_buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (self->phase_ != State::Startup) return;  // timed out
            if (ec) return self->drop_startup(ec);
            auto length = protocol::startup_packet_length(
                std::span<const char, 4>(self->startup_buffer_.data(), 4));
            if (!length) {
                spdlog::warn("{}: closed: invalid startup packet length", self->describe());
                return self->refuse_startup(
                    fatal(sqlstate::kProtocolViolation, "invalid length of startup packet"),
                    "invalid startup packet");
            }
            self->on_startup_packet(*length);
        });
}

void ClientSession::on_startup_packet(std::size_t length) {
    startup_buffer_.resize(length);
    client_.async_read(
        asio::buffer(startup_buffer_.data() + 4, length - 4),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (self->phase_ != State::Startup) return;
            if (ec) return self->drop_startup(ec);
            protocol::StartupPacket packet;
            try {
                packet = protocol::decode_startup_packet(self->startup_buffer_);
            } catch (const protocol::UnsupportedProtocol& e) {
                spdlog::warn("{}: closed: {}", self->describe(), e.what());
                return self->refuse_startup(fatal(sqlstate::kFeatureNotSupported, e.what()),
                                            "unsupported protocol");
            } catch (const protocol::ProtocolError& e) {
                spdlog::warn("{}: closed: {}", self->describe(), e.what());
                return self->refuse_startup(fatal(sqlstate::kProtocolViolation, e.what()),
                                            "invalid startup packet");
            }
            switch (packet.kind) {
                case protocol::StartupKind::SslRequest:
                    if (self->client_.tls()) {
                        spdlog::warn("{}: closed: SSLRequest on a TLS connection",
                                     self->describe());
                        return self->refuse_startup(
                            fatal(sqlstate::kProtocolViolation,
                                  "SSLRequest on a connection that already uses TLS"),
                            "protocol violation by client");
                    }
                    // 'N' without TLS configured lets sslmode=prefer clients go on in clear.
                    if (!self->tls_->for_clients) return self->answer_negotiation('N');
                    return self->start_client_tls();
                case protocol::StartupKind::GssEncRequest:
                    return self->answer_negotiation('N');
                case protocol::StartupKind::CancelRequest:
                    self->close_reason_ = "cancel request";
                    forward_cancel_request(
                        static_cast<asio::io_context&>(self->client_.get_executor().context()),
                        self->config_, self->tls_->for_upstream, packet.cancel, self->describe());
                    self->phase_ = State::Closing;
                    self->startup_timer_.cancel();
                    return;  // dropping the last reference closes the client socket
                case protocol::StartupKind::Startup:
                    break;
            }
            self->startup_ = std::move(packet);
            self->database_ = self->startup_.database();
            if (!self->client_.tls() &&
                self->config_.tls.client.sslmode == config::ClientTlsMode::Require) {
                spdlog::warn(
                    "{}: refused: client did not ask for TLS (tls.client.sslmode = "
                    "require)",
                    self->describe());
                return self->refuse_startup(fatal(sqlstate::kProtocolViolation,
                                                  "this pgrev accepts only TLS connections "
                                                  "(tls.client.sslmode = require)"),
                                            "client without TLS");
            }
            std::size_t sessions = self->state_.active_sessions.fetch_add(1) + 1;
            self->counted_ = true;
            if (sessions > self->config_.limits.max_clients) {
                spdlog::warn("{}: refused: too many clients (limits.max_clients = {})",
                             self->describe(), self->config_.limits.max_clients);
                return self->refuse_startup(fatal(sqlstate::kTooManyConnections,
                                                  fmt::format("sorry, too many clients already "
                                                              "(limits.max_clients = {})",
                                                              self->config_.limits.max_clients)),
                                            "too many clients");
            }
            self->open_upstream();
        });
}

void ClientSession::answer_negotiation(char answer) {
    startup_buffer_.assign(1, answer);
    client_.async_write(
        asio::buffer(startup_buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (self->phase_ != State::Startup) return;
            if (ec) return self->drop_startup(ec);
            self->read_startup_packet();
        });
}

void ClientSession::start_client_tls() {
    startup_buffer_.assign(1, 'S');
    client_.async_write(
        asio::buffer(startup_buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (self->phase_ != State::Startup) return;
            if (ec) return self->drop_startup(ec);
            self->client_tls_handshake(false);
        });
}

void ClientSession::detect_direct_tls() {
    // PostgreSQL 17 clients with sslnegotiation=direct open with the TLS handshake itself,
    // no SSLRequest: its first byte is a TLS record type (22), which no startup packet
    // starts with (their length would be over 350 MB). Looked at without reading it.
    direct_tls_checked_ = true;
    client_.socket().async_wait(
        Socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
            if (self->phase_ != State::Startup) return;
            if (ec) return self->drop_startup(ec);
            char first = 0;
            boost::system::error_code peek_error;
            std::size_t n = self->client_.socket().receive(asio::buffer(&first, 1),
                                                           Socket::message_peek, peek_error);
            constexpr char kTlsHandshakeRecord = 0x16;
            if (!peek_error && n == 1 && first == kTlsHandshakeRecord) {
                return self->client_tls_handshake(true);
            }
            self->read_startup_packet();  // sees the EOF or error too, if that is what came
        });
}

void ClientSession::client_tls_handshake(bool direct) {
    client_tls_handshaking_ = true;
    client_.async_start_tls(
        Connection::Role::Server, tls_->for_clients, {}, false,
        [self = shared_from_this(), direct](const boost::system::error_code& ec) {
            self->client_tls_handshaking_ = false;
            if (self->phase_ != State::Startup) return;
            if (!ec && direct && !self->client_.alpn_is_postgresql()) {
                // As PostgreSQL: direct TLS must say it is for PostgreSQL (ALPN), so that a
                // TLS connection meant for another protocol is not taken for one.
                spdlog::warn("{}: closed: direct TLS connection without ALPN \"postgresql\"",
                             self->describe());
                return self->refuse_startup(fatal(sqlstate::kProtocolViolation,
                                                  "received direct SSL connection request "
                                                  "without ALPN protocol negotiation extension"),
                                            "direct TLS without ALPN");
            }
            if (!ec) return self->read_startup_packet();
            std::string reason = self->client_.handshake_failure(ec);
            spdlog::warn("{}: closed: TLS handshake with the client failed: {}{}", self->describe(),
                         reason,
                         self->config_.tls.client.ca_file.empty() ? "" : " (tls.client.ca_file)");
            self->close_reason_ = "TLS handshake failed";
            self->phase_ = State::Closing;
            self->startup_timer_.cancel();
            self->client_.close();
        });
}

void ClientSession::drop_startup(const boost::system::error_code& ec) {
    // The client went away (EOF, reset) before its startup was complete: there is no one to
    // answer. Close now: the startup timer holds the session too, and waiting for it would keep
    // the socket, and its place under the cap of open connections, for limits.startup_timeout.
    spdlog::debug("{}: closed during startup: {}", describe(), ec.message());
    close_reason_ = "client disconnected during startup";
    phase_ = State::Closing;
    startup_timer_.cancel();
    client_.close();
}

void ClientSession::refuse_startup(const PgrevError& error, const std::string& reason) {
    close_reason_ = reason;
    phase_ = State::Closing;
    startup_timer_.cancel();
    auto bytes = std::make_shared<std::string>(protocol::encode_error_response(error));
    client_.async_write(asio::buffer(*bytes), [self = shared_from_this(), bytes](
                                                  const boost::system::error_code&, std::size_t) {
        self->client_.shutdown();
    });
}

void ClientSession::open_upstream() {
    phase_ = State::Connecting;
    connect_upstream(
        upstream_, config_.upstream,
        [self = shared_from_this()](const boost::system::error_code& ec) {
            if (self->phase_ != State::Connecting) return;
            if (ec) {
                spdlog::error("{}: cannot connect to PostgreSQL at {}: {}", self->describe(),
                              self->config_.upstream.to_string(), ec.message());
                return self->refuse_startup(
                    fatal(sqlstate::kConnectionFailure,
                          fmt::format("cannot connect to the PostgreSQL "
                                      "server at {}: {}",
                                      self->config_.upstream.to_string(), ec.message())),
                    "upstream unreachable");
            }
            self->negotiate_upstream();
        });
}

void ClientSession::negotiate_upstream() {
    negotiate_upstream_tls(
        upstream_, config_.tls.upstream, tls_->for_upstream, config_.upstream,
        upstream_tls_retried_, [self = shared_from_this()](const std::string& failure) {
            if (self->phase_ != State::Connecting) return;
            if (!failure.empty()) {
                spdlog::error("{}: {}", self->describe(), failure);
                self->upstream_.close();
                return self->refuse_startup(fatal(sqlstate::kConnectionFailure, failure),
                                            "upstream TLS failed");
            }
            spdlog::info("{}: connected, application_name={}, client {}, upstream {}",
                         self->describe(), self->startup_.parameter("application_name"),
                         self->client_.tls() ? "TLS" : "clear",
                         self->upstream_.tls() ? "TLS" : "clear");
            spdlog::debug("{}: client leg {}; upstream leg {}", self->describe(),
                          self->client_.tls_description(), self->upstream_.tls_description());
            self->send_startup();
        });
}

void ClientSession::send_startup() {
    phase_ = State::Authenticating;
    // The StartupMessage goes on byte for byte; authentication is between client and server,
    // with pgrev in it only where TLS needs it (AuthRelay).
    upstream_.async_write(
        asio::buffer(startup_buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (self->phase_ == State::Closing) return;
            if (ec) {
                self->upstream_.close();
                return self->refuse_startup(fatal(sqlstate::kConnectionFailure,
                                                  "lost the connection to the PostgreSQL server "
                                                  "during startup: " +
                                                      ec.message()),
                                            "upstream failed during startup");
            }
            bool may_retry = self->config_.tls.upstream.sslmode == config::UpstreamTlsMode::Allow &&
                             !self->upstream_tls_retried_ && self->tls_->for_upstream != nullptr;
            self->auth_relay_.start(may_retry, self, [self](AuthRelayResult result) {
                self->on_auth_relay_done(std::move(result));
            });
        });
}

void ClientSession::on_auth_relay_done(AuthRelayResult result) {
    if (phase_ == State::Closing) return;
    if (startup_timed_out_) {
        upstream_.close();
        return refuse_startup(fatal(sqlstate::kConnectionFailure,
                                    "startup did not finish in time (limits.startup_timeout)"),
                              "startup timeout");
    }
    switch (result.next) {
        case AuthRelayResult::Next::RetryWithTls:
            spdlog::info(
                "{}: PostgreSQL refused the connection in clear; trying TLS "
                "(tls.upstream.sslmode = allow)",
                describe());
            upstream_tls_retried_ = true;
            upstream_.reset();
            return open_upstream();
        case AuthRelayResult::Next::Fail:
            spdlog::warn("{}: closed during authentication: {}", describe(), result.reason);
            upstream_.close();
            if (result.error) return refuse_startup(*result.error, result.reason);
            close_reason_ = result.reason;
            phase_ = State::Closing;
            startup_timer_.cancel();
            client_.close();
            return;
        case AuthRelayResult::Next::Proxy:
            return start_proxying(result.server_bytes);
    }
}

void ClientSession::start_proxying(const std::string& first_server_bytes) {
    startup_buffer_ = {};
    auto self = shared_from_this();
    client_to_server_.start(self, [self](const PumpResult& r) { self->on_client_pump_end(r); });
    server_to_client_.start(
        self, [self](const PumpResult& r) { self->on_server_pump_end(r); }, first_server_bytes);
}

// --- Proxying ---

audit::CatalogPtr ClientSession::current_catalog() {
    return state_.catalogs->current(database_);
}

std::shared_ptr<const audit::NameFilter> ClientSession::children_filter() {
    return state_.catalogs->children_filter(database_);
}

std::uint64_t ClientSession::children_generation() const {
    return state_.catalogs->children_generation();
}

void ClientSession::catalog_changed(const std::vector<audit::ChildTable>& new_children) {
    state_.catalogs->invalidate(database_, new_children);
}

void ClientSession::request_catalog() {
    client_to_server_.suspend();
    state_.catalogs->refresh(
        database_, client_.get_executor(),
        [self = shared_from_this()](const audit::CatalogPtr&, const std::string& error) {
            if (self->phase_ == State::Closing) return;
            self->client_messages_.on_catalog_loaded(error);
            self->client_to_server_.resume();
        });
}

void ClientSession::on_server_ready(char transaction_status) {
    if (query_state_.catalog_dirty && transaction_status == 'I') {
        // The DDL is committed (or rolled back): what the catalog says now is what counts.
        query_state_.catalog_dirty = false;
        query_state_.catalog_refresh_needed = true;
        state_.catalogs->invalidate(database_);
    }
    if (phase_ == State::Authenticating) {
        phase_ = State::Ready;
        client_to_server_.set_max_message_size(config_.limits.max_message_size);
        startup_timer_.cancel();
        spdlog::debug("{}: authenticated, ready for queries", describe());
        if (config_.limits.idle_timeout.count() > 0) arm_idle_timer();
    }
    ready_since_ = std::chrono::steady_clock::now();
    client_bytes_at_ready_ = client_to_server_.bytes_read();
}

void ClientSession::on_server_error(const protocol::ErrorFields& error) {
    if (error.ends_session()) server_sent_fatal_ = true;
    if (phase_ == State::Authenticating) {
        spdlog::warn("{}: refused by PostgreSQL: {} ({})", describe(), error.message(),
                     error.sqlstate());
    }
}

void ClientSession::arm_idle_timer() {
    // "Idle" means the server is waiting for the client: a long query is not idle. Checking a
    // few times per period keeps the per-message path free of timer work.
    auto period = std::max<std::chrono::milliseconds>(config_.limits.idle_timeout / 4,
                                                      std::chrono::milliseconds(100));
    idle_timer_.expires_after(period);
    idle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->phase_ != State::Ready) return;
        bool waiting_for_client =
            self->client_to_server_.bytes_read() == self->client_bytes_at_ready_;
        if (waiting_for_client && std::chrono::steady_clock::now() - self->ready_since_ >=
                                      self->config_.limits.idle_timeout) {
            spdlog::info("{}: idle for longer than limits.idle_timeout", self->describe());
            return self->terminate(fatal(sqlstate::kIdleSessionTimeout,
                                         "terminating connection due to idle timeout "
                                         "(limits.idle_timeout)"),
                                   "idle timeout");
        }
        self->arm_idle_timer();
    });
}

void ClientSession::on_client_pump_end(const PumpResult& result) {
    switch (result.end) {
        case PumpEnd::SourceClosed:
        case PumpEnd::SourceFailed:
            return terminate(std::nullopt,
                             client_terminated_ ? "client sent Terminate" : "client disconnected");
        case PumpEnd::SinkFailed:
            // The server side ended too; its pump reports why.
            return terminate(std::nullopt, "lost the connection to PostgreSQL: " + result.detail);
        case PumpEnd::MessageTooLarge:
            spdlog::warn("{}: closed: {}, more than limits.max_message_size ({} B)", describe(),
                         result.detail, config_.limits.max_message_size);
            return terminate(fatal(sqlstate::kProgramLimitExceeded,
                                   fmt::format("{}, over the limit of {} bytes "
                                               "(limits.max_message_size)",
                                               result.detail, config_.limits.max_message_size)),
                             "message too large");
        case PumpEnd::OutOfStep:
            return end_out_of_step(result.detail);
        case PumpEnd::InternalError:
            spdlog::error("{}: internal error handling a client message: {}", describe(),
                          result.detail);
            return terminate(fatal(sqlstate::kInternalError, "internal error: " + result.detail),
                             "internal error");
        case PumpEnd::ProtocolViolation:
            spdlog::warn("{}: invalid message from client: {}", describe(), result.detail);
            return terminate(fatal(sqlstate::kProtocolViolation,
                                   "invalid message from client: " + result.detail),
                             "protocol violation by client");
    }
}

void ClientSession::on_server_pump_end(const PumpResult& result) {
    if (phase_ != State::Closing && result.end == PumpEnd::OutOfStep) {
        return end_out_of_step(result.detail);
    }
    if (phase_ != State::Closing) {
        // The server side ended first.
        std::optional<PgrevError> error;
        std::string reason = "server closed the connection";
        if (result.end == PumpEnd::InternalError) {
            spdlog::error("{}: internal error handling a server message: {}", describe(),
                          result.detail);
            error = fatal(sqlstate::kInternalError, "internal error: " + result.detail);
            reason = "internal error";
        } else if (result.end == PumpEnd::ProtocolViolation) {
            spdlog::error("{}: invalid message from PostgreSQL: {}", describe(), result.detail);
            error = fatal(sqlstate::kProtocolViolation,
                          "invalid message from the PostgreSQL server: " + result.detail);
            reason = "protocol violation by server";
        } else if (result.end == PumpEnd::SinkFailed) {
            reason = "client disconnected";
        } else if (!client_terminated_ && !server_sent_fatal_) {
            spdlog::warn("{}: PostgreSQL closed the connection unexpectedly: {}", describe(),
                         result.detail);
            error =
                fatal(sqlstate::kConnectionFailure, "lost the connection to the PostgreSQL server");
            reason = "PostgreSQL closed the connection";
        }
        terminate(std::move(error), reason);
        return;
    }
    close_client_after_error();
}

void ClientSession::end_out_of_step(const std::string& detail) {
    // pgrev no longer knows which answer belongs to which statement, so it could not restore a
    // tag or an error correctly: fail closed.
    spdlog::error("{}: lost track of the protocol: {}; ending the session", describe(), detail);
    terminate(fatal(sqlstate::kProtocolViolation,
                    "lost track of the protocol (" + detail + "); ending the session"),
              "out of step with the server");
}

void ClientSession::terminate(std::optional<PgrevError> error, std::string reason) {
    if (phase_ == State::Closing) return;
    phase_ = State::Closing;
    close_reason_ = std::move(reason);
    pending_error_ = std::move(error);
    startup_timer_.cancel();
    idle_timer_.cancel();
    upstream_.close();  // ends the server-to-client pump, which then closes the client
    // A client pump waiting for the catalog has nothing pending that would end it.
    client_to_server_.abandon_if_suspended();
    if (!server_to_client_.running()) close_client_after_error();
}

void ClientSession::close_client_after_error() {
    // An error of pgrev's own may only go between messages, never inside a streamed one.
    if (!pending_error_ || !server_to_client_.at_message_boundary() || !client_.is_open()) {
        client_.close();
        return;
    }
    auto bytes = std::make_shared<std::string>(protocol::encode_error_response(*pending_error_));
    pending_error_.reset();
    client_.async_write(asio::buffer(*bytes),
                        [self = shared_from_this(), bytes](const boost::system::error_code&,
                                                           std::size_t) { self->client_.close(); });
}

}  // namespace pgrev::server
