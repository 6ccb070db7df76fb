// pgrev: a transparent PostgreSQL proxy that keeps a revision history of chosen tables.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "config/config.h"
#include "server/history_command.h"
#include "server/proxy_server.h"
#include "server/tls_contexts.h"

namespace {

constexpr const char* kUsage = R"(Usage: pgrev --config FILE [--check]
       pgrev --help | --version
)";

constexpr const char* kDescription = R"(
pgrev sits between your application and PostgreSQL. Point the application's connection
string at pgrev's listen address instead of PostgreSQL; everything is forwarded unchanged,
and for the tables listed under audit.tables every INSERT, UPDATE and DELETE also appends
the changed rows to <table>_rev in the same transaction.

Options:
  -c, --config FILE   YAML configuration (see README.md, "Configuration")
      --check         load and validate the configuration, print a summary, and exit
  -h, --help          show this help and exit
  -V, --version       show the version and exit

pgrev runs in the foreground and logs to standard error. SIGINT or SIGTERM stops it;
open sessions are closed and PostgreSQL rolls back their open transactions.
SIGHUP re-reads the TLS certificate and key files (tls.*) for new connections.

Exit status: 0 after a clean stop, 1 for a configuration error, 2 for bad usage,
3 when pgrev cannot listen.

Checking the history (README.md, "Checking the history"):
)";

spdlog::level::level_enum to_spdlog(pgrev::config::LogLevel level) {
    using pgrev::config::LogLevel;
    switch (level) {
        case LogLevel::Trace:
            return spdlog::level::trace;
        case LogLevel::Debug:
            return spdlog::level::debug;
        case LogLevel::Info:
            return spdlog::level::info;
        case LogLevel::Warn:
            return spdlog::level::warn;
        case LogLevel::Error:
            return spdlog::level::err;
    }
    return spdlog::level::info;
}

int usage_error(const std::string& message) {
    std::fprintf(stderr, "pgrev: %s\nTry 'pgrev --help'.\n", message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 &&
        (std::strcmp(argv[1], "verify") == 0 || std::strcmp(argv[1], "baseline") == 0)) {
        return pgrev::server::run_history_command(argv[1],
                                                  std::vector<std::string>(argv + 2, argv + argc));
    }
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            std::fputs(pgrev::server::kHistoryUsage, stdout);
            std::fputs(kDescription, stdout);
            std::fputs(pgrev::server::kHistoryDescription, stdout);
            return 0;
        }
        if (arg == "-V" || arg == "--version") {
            std::printf("pgrev %s\n", PGREV_VERSION);
            return 0;
        }
        if (arg == "--check") {
            check_only = true;
        } else if (arg == "-c" || arg == "--config") {
            if (i + 1 >= argc) return usage_error(arg + " needs a file name");
            config_path = argv[++i];
        } else if (arg.rfind("--config=", 0) == 0) {
            config_path = arg.substr(std::strlen("--config="));
        } else {
            return usage_error("unknown argument '" + arg + "'");
        }
    }
    if (config_path.empty()) return usage_error("no configuration file: use --config FILE");

    pgrev::config::Config config;
    try {
        config = pgrev::config::load_config_file(config_path);
    } catch (const pgrev::config::ConfigError& e) {
        std::fprintf(stderr, "pgrev: configuration error: %s\n", e.what());
        return 1;
    }
    try {
        pgrev::server::load_tls_contexts(config.tls);  // OpenSSL's view of the files
    } catch (const pgrev::server::TlsLoadError& e) {
        std::fprintf(stderr, "pgrev: configuration error: %s\n", e.what());
        return 1;
    }
    if (check_only) {
        std::printf(
            "%s: OK (listen %s, upstream %s, %zu audited tables, client TLS %s, upstream TLS "
            "%s)\n",
            config_path.c_str(), config.listen.to_string().c_str(),
            config.upstream.to_string().c_str(), config.audit.tables.size(),
            pgrev::config::sslmode_name(config.tls.client.sslmode),
            pgrev::config::sslmode_name(config.tls.upstream.sslmode));
        return 0;
    }

    auto logger = spdlog::stderr_color_mt("pgrev");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
    logger->set_level(to_spdlog(config.log_level));
    spdlog::set_default_logger(logger);

    try {
        pgrev::server::ProxyServer server(config);
        if (!server.prepare_revision_tables()) {
            spdlog::critical(
                "pgrev does not start: fix the revision tables above, or remove "
                "their tables from audit.tables");
            return 1;
        }
        server.listen();
        server.run();
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 3;
    }
    return 0;
}
