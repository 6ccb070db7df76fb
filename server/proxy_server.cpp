#include "server/proxy_server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <stdexcept>

#include "server/client_session.h"

namespace pgrev::server {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

tcp::endpoint listen_endpoint(const config::Endpoint& listen) {
    boost::system::error_code ec;
    std::string host = listen.host == "*" ? "0.0.0.0" : listen.host;
    auto address = asio::ip::make_address(host, ec);
    if (!ec) return {address, listen.port};
    asio::io_context io;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(host, std::to_string(listen.port), ec);
    if (ec || results.empty()) {
        throw std::runtime_error(
            fmt::format("listen: cannot resolve '{}': {}", listen.host, ec.message()));
    }
    return results.begin()->endpoint();
}

// Accepted sockets beyond this are closed at once: max_clients is enforced politely after the
// startup packet, this bound protects file descriptors from a flood that never sends one.
std::size_t connection_cap(const config::Config& config) {
    return config.limits.max_clients * 2 + 100;
}

}  // namespace

ProxyServer::ProxyServer(const config::Config& config)
    : config_(config),
      catalogs_(config),
      tls_(config.tls),
      state_(config, catalogs_, tls_),
      acceptor_(acceptor_io_),
      signals_(acceptor_io_) {
    unsigned count = config.workers != 0 ? config.workers : std::thread::hardware_concurrency();
    if (count == 0) count = 1;
    for (unsigned i = 0; i < count; ++i) {
        // A session's sockets are used by its worker's thread alone (other threads post to
        // it: the acceptor, the catalog loader), so the reactor's per-socket locks, taken for
        // every read and write, are not needed; posting and registering sockets stay locked.
        workers_.push_back(
            std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO));
        work_guards_.push_back(asio::make_work_guard(*workers_.back()));
    }
}

void ProxyServer::listen() {
    const config::Config& config = config_;
    tcp::endpoint endpoint = listen_endpoint(config.listen);
    boost::system::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw std::runtime_error(fmt::format("listen: cannot listen on {}: {}",
                                             config.listen.to_string(), ec.message()));
    }
}

ProxyServer::~ProxyServer() = default;

asio::io_context& ProxyServer::next_worker() {
    auto& io = *workers_[next_worker_];
    next_worker_ = (next_worker_ + 1) % workers_.size();
    return io;
}

void ProxyServer::accept_next() {
    acceptor_.async_accept(next_worker(), [this](const boost::system::error_code& ec,
                                                 tcp::socket socket) {
        if (ec == asio::error::operation_aborted) return;
        if (ec) {
            // EMFILE and friends: say so and keep accepting; the sessions that exist go on.
            spdlog::error("accept failed: {}", ec.message());
        } else if (state_.open_connections.load() >= connection_cap(config_)) {
            spdlog::warn("closing new connection: {} connections open", connection_cap(config_));
        } else {
            state_.open_connections.fetch_add(1);
            auto& io = static_cast<asio::io_context&>(socket.get_executor().context());
            // The session starts on its own thread.
            asio::post(io, [this, s = std::move(socket)]() mutable {
                auto session = std::make_shared<ClientSession>(std::move(s), state_);
                remember(session);
                session->start();
            });
        }
        accept_next();
    });
}

void ProxyServer::remember(const std::shared_ptr<ClientSession>& session) {
    std::lock_guard lock(sessions_mutex_);
    if (sessions_.size() >= prune_sessions_at_) {
        std::erase_if(sessions_, [](const auto& s) { return s.expired(); });
        prune_sessions_at_ = std::max<std::size_t>(64, 2 * sessions_.size());
    }
    sessions_.push_back(session);
}

void ProxyServer::wait_for_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
            reload_tls();
            return wait_for_signal();
        }
        spdlog::info("received {}, shutting down", signal == SIGINT ? "SIGINT" : "SIGTERM");
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    });
}

void ProxyServer::reload_tls() {
    std::string failure = tls_.reload();
    if (failure.empty()) {
        spdlog::info(
            "received SIGHUP: TLS certificates and keys re-read; new connections use them");
    } else {
        spdlog::error(
            "received SIGHUP: cannot load {}; new connections keep using the "
            "certificates loaded before",
            failure);
    }
}

void ProxyServer::run() {
    std::vector<std::thread> threads;
    for (auto& io : workers_)
        threads.emplace_back([&io] { io->run(); });

    signals_.add(SIGINT);
    signals_.add(SIGTERM);
    signals_.add(SIGHUP);
    wait_for_signal();
    spdlog::info("pgrev listening on {}, forwarding to {}, {} worker threads, {} audited tables",
                 config_.listen.to_string(), config_.upstream.to_string(), workers_.size(),
                 config_.audit.tables.size());
    accept_next();
    acceptor_io_.run();  // returns once the acceptor is closed and the signal handled

    // Sessions end with the process: their clients see the connection close, and PostgreSQL
    // rolls back whatever they had open.
    for (auto& io : workers_)
        io->stop();
    for (auto& t : threads)
        t.join();
    catalogs_.stop();  // a load that ends now posts its callbacks, to be destroyed unrun
    // A session still open is kept alive by its own pumps (or AuthRelay) until their
    // operations complete, which they never will now: release it, so that it is destroyed
    // (and logs its end) here or with its pending handlers when its io_context goes.
    std::vector<std::shared_ptr<ClientSession>> open;
    {
        std::lock_guard lock(sessions_mutex_);
        for (const auto& s : sessions_) {
            if (auto session = s.lock()) open.push_back(std::move(session));
        }
        sessions_.clear();
    }
    for (const auto& session : open)
        session->release_at_stop();
    open.clear();
    work_guards_.clear();
    workers_.clear();
    spdlog::info("pgrev stopped");
}

}  // namespace pgrev::server
