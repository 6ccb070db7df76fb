// What every session shares with the server that accepted it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "audit/name_filter.h"
#include "config/config.h"

namespace pgrev::server {

class CatalogService;
class TlsStore;

struct ServerState {
    ServerState(const config::Config& c, CatalogService& catalog_service, TlsStore& tls_store)
        : config(c), name_filter(audited_names(c)), catalogs(&catalog_service), tls(&tls_store) {}

    static std::vector<std::string> audited_names(const config::Config& c) {
        std::vector<std::string> names;
        for (const auto& t : c.audit.tables)
            names.push_back(t.name);
        return names;
    }

    const config::Config& config;
    const audit::NameFilter name_filter;
    // DDL that can drop revision tables without naming them (DROP SCHEMA ... CASCADE,
    // DROP OWNED): analysed too.
    const audit::NameFilter ddl_filter{{"owned", "schema"}, false};
    CatalogService* catalogs;
    TlsStore* tls;  // the certificates new sessions use (re-read on SIGHUP)
    // Sessions past their StartupMessage; limited by limits.max_clients.
    std::atomic<std::size_t> active_sessions{0};
    // Every accepted socket, to bound file descriptors against floods of half-open connections.
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::uint64_t> next_session_id{1};
};

}  // namespace pgrev::server
