// Accepts clients and spreads their sessions over one io_context per core: a session lives on
// one thread for its whole life, so sessions need no locks and no strands.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "config/config.h"
#include "server/catalog_service.h"
#include "server/server_state.h"
#include "server/tls_contexts.h"

namespace pgrev::server {

class ClientSession;

class ProxyServer {
  public:
    // Throws TlsLoadError when a file of tls.* cannot be loaded.
    explicit ProxyServer(const config::Config& config);
    ~ProxyServer();

    // Prepares the revision tables of every database; false when one cannot be used.
    bool prepare_revision_tables() { return catalogs_.prepare_all_databases(); }

    // Binds the listening socket; throws std::runtime_error naming the address when it cannot.
    // Called after prepare_revision_tables(), so that a client that can connect finds them.
    void listen();

    // Serves until SIGINT or SIGTERM; SIGHUP re-reads the TLS files.
    void run();

  private:
    using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

    void accept_next();
    void wait_for_signal();
    void reload_tls();
    boost::asio::io_context& next_worker();
    void remember(const std::shared_ptr<ClientSession>& session);

    const config::Config& config_;
    CatalogService catalogs_;
    TlsStore tls_;
    ServerState state_;
    std::vector<std::unique_ptr<boost::asio::io_context>> workers_;
    std::vector<WorkGuard> work_guards_;
    std::size_t next_worker_ = 0;
    // Every session started (expired ones are dropped as it grows), for run()'s stop.
    std::mutex sessions_mutex_;
    std::vector<std::weak_ptr<ClientSession>> sessions_;
    std::size_t prune_sessions_at_ = 64;
    boost::asio::io_context acceptor_io_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::signal_set signals_;
};

}  // namespace pgrev::server
