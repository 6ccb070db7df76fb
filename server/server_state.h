// What every session shares with the server that accepted it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "config/config.h"

namespace pgrev::server {

struct ServerState {
    explicit ServerState(const config::Config& c) : config(c) {}

    const config::Config& config;
    // Sessions past their StartupMessage; limited by limits.max_clients.
    std::atomic<std::size_t> active_sessions{0};
    // Every accepted socket, to bound file descriptors against floods of half-open connections.
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::uint64_t> next_session_id{1};
};

}  // namespace pgrev::server
