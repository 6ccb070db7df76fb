// One client connection and its own upstream connection (session mode).
//
// States, named after where the session is:
//   Startup        reading SSLRequest (then the TLS handshake) / GSSENCRequest / CancelRequest /
//                  StartupMessage
//   Connecting     opening the connection to PostgreSQL, TLS as tls.upstream.sslmode says
//   Authenticating startup forwarded; client and server talk authentication through pgrev
//                  (AuthRelay first, where TLS needs pgrev to take part; then the pumps)
//   Ready          first ReadyForQuery seen; queries flow
//   Closing        one side ended or pgrev ended it; the other side is being wound down
// Everything of one session runs on one io_context thread, so there are no locks.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "protocol/backend_messages.h"
#include "protocol/startup_packet.h"
#include "server/auth_relay.h"
#include "server/client_messages.h"
#include "server/connection.h"
#include "server/pump.h"
#include "server/query_state.h"
#include "server/server_messages.h"
#include "server/server_state.h"
#include "server/session_callbacks.h"
#include "server/tls_contexts.h"

namespace pgrev::server {

class ClientSession : public std::enable_shared_from_this<ClientSession>, private SessionCallbacks {
  public:
    using Socket = boost::asio::ip::tcp::socket;

    ClientSession(Socket client, ServerState& state);
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    void start();
    // For pgrev's stop, after the worker threads ended: the pumps and the AuthRelay keep the
    // session alive while they wait for operations that will never complete now; this lets
    // it go, so that it is destroyed with its pending handlers (see ProxyServer::run).
    void release_at_stop();

    std::string describe() const override;

  private:
    // SessionCallbacks: what the message handlers ask of the session.
    audit::CatalogPtr current_catalog() override;
    std::shared_ptr<const audit::NameFilter> children_filter() override;
    std::uint64_t children_generation() const override;
    void catalog_changed(const std::vector<audit::ChildTable>& new_children) override;
    // The client-to-server pump stops until the catalog of the session's database is read.
    void request_catalog() override;
    const std::string& database() const override { return database_; }
    // The client-to-server pump stops until resume_client() (waiting for settings).
    void suspend_client() override { client_to_server_.suspend(); }
    void resume_client() override { client_to_server_.resume(); }
    void on_client_terminate() override { client_terminated_ = true; }
    void on_server_ready(char transaction_status) override;
    void on_server_error(const protocol::ErrorFields& error) override;

    enum class State { Startup, Connecting, Authenticating, Ready, Closing };

    void read_startup_packet();
    void on_startup_packet(std::size_t length);
    void answer_negotiation(char answer);
    void start_client_tls();
    void detect_direct_tls();
    void client_tls_handshake(bool direct);
    void drop_startup(const boost::system::error_code& ec);
    void refuse_startup(const protocol::PgrevError& error, const std::string& reason);
    void open_upstream();
    void negotiate_upstream();
    void send_startup();
    void on_auth_relay_done(AuthRelayResult result);
    void start_proxying(const std::string& first_server_bytes);

    void on_client_pump_end(const PumpResult& result);
    void on_server_pump_end(const PumpResult& result);
    // Ends the session: closes the upstream side; the client gets `error` (if any) and is
    // closed once the server-to-client pump, the only writer to the client, has stopped.
    void terminate(std::optional<protocol::PgrevError> error, std::string reason);
    void end_out_of_step(const std::string& detail);
    void close_client_after_error();

    void arm_startup_timer();
    void arm_idle_timer();

    Connection client_;
    Connection upstream_;
    ServerState& state_;
    const config::Config& config_;
    std::shared_ptr<const TlsContexts> tls_;  // as loaded when the session began
    State phase_ = State::Startup;
    std::uint64_t id_;
    std::string client_address_;
    protocol::StartupPacket startup_;
    std::string database_;  // startup_.database(), read once
    bool counted_ = false;  // holds one of limits.max_clients
    std::vector<char> startup_buffer_;
    bool upstream_tls_retried_ = false;  // tls.upstream.sslmode allow: the second attempt
    bool direct_tls_checked_ = false;    // the first byte was looked at (detect_direct_tls)
    bool client_tls_handshaking_ = false;
    bool startup_timed_out_ = false;  // limits.startup_timeout passed while the relay ran

    QueryState query_state_;
    ClientMessages client_messages_;
    ServerMessages server_messages_;
    AuthRelay auth_relay_;
    Pump client_to_server_;
    Pump server_to_client_;

    boost::asio::steady_timer startup_timer_;
    boost::asio::steady_timer idle_timer_;
    std::chrono::steady_clock::time_point opened_at_;
    std::chrono::steady_clock::time_point ready_since_;  // last ReadyForQuery
    std::uint64_t client_bytes_at_ready_ = 0;
    bool client_terminated_ = false;  // the client sent Terminate: the server's EOF is expected
    bool server_sent_fatal_ = false;  // the server said why it closes; nothing to add
    std::optional<protocol::PgrevError> pending_error_;
    std::string close_reason_;
};

}  // namespace pgrev::server
