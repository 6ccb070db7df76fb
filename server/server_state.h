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
        : config(c),
          name_filter(audited_names(c)),
          analysis_filter(analysed_words(c)),
          catalogs(&catalog_service),
          tls(&tls_store) {}

    static std::vector<std::string> audited_names(const config::Config& c) {
        std::vector<std::string> names;
        for (const auto& t : c.audit.tables)
            names.push_back(t.name);
        return names;
    }

    // Words of DDL that can drop revision tables without naming them (DROP SCHEMA ...
    // CASCADE, DROP OWNED): statements with them are analysed too.
    static std::vector<std::string> ddl_words() { return {"owned", "schema"}; }
    static std::vector<std::string> analysed_words(const config::Config& c) {
        std::vector<std::string> words = audited_names(c);
        for (auto& w : ddl_words())
            words.push_back(std::move(w));
        return words;
    }

    const config::Config& config;
    const audit::NameFilter name_filter;
    const audit::NameFilter ddl_filter{ddl_words(), false};
    // Both in one pass over the text: what decides whether a statement is parsed.
    const audit::NameFilter analysis_filter;
    CatalogService* catalogs;
    TlsStore* tls;  // the certificates new sessions use (re-read on SIGHUP)
    // Sessions past their StartupMessage; limited by limits.max_clients.
    std::atomic<std::size_t> active_sessions{0};
    // Every accepted socket, to bound file descriptors against floods of half-open connections.
    std::atomic<std::size_t> open_connections{0};
    std::atomic<std::uint64_t> next_session_id{1};
};

}  // namespace pgrev::server
