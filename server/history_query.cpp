#include "server/history_query.h"

#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "audit/catalog_loader.h"
#include "audit/sql_lexer.h"

namespace pgrev::server {

namespace {

struct ResultClearer {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultClearer>;

std::string trimmed(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

constexpr auto kRedraw = std::chrono::seconds(1);

}  // namespace

Progress::Progress(std::string label)
    : label_(std::move(label)),
      terminal_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
    clear();
}

void Progress::tick(long found) {
    if (!terminal_) return;
    auto now = std::chrono::steady_clock::now();
    if (drawn_.time_since_epoch().count() != 0 && now - drawn_ < kRedraw) return;
    drawn_ = now;
    auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - start_).count();
    std::string line = fmt::format("\r\033[K{} {} s", label_, seconds);
    if (found > 0) line += fmt::format(", {} found", found);
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
    shown_ = true;
}

void Progress::clear() {
    if (!shown_) return;
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
    drawn_ = {};  // the next tick draws again at once
}

HistoryConnection::HistoryConnection(const config::Config& config, const std::string& database)
    : conn_(PQconnectdb(audit::admin_conninfo(config, database).c_str())), database_(database) {
    if (PQstatus(conn_.get()) != CONNECTION_OK) {
        throw CheckFailed(fmt::format(
            "cannot connect as admin role \"{}\" to database \"{}\" at {}: {}", config.admin.user,
            database, config.upstream.to_string(), trimmed(PQerrorMessage(conn_.get()))));
    }
    // admin_conninfo's timeouts suit catalog reads; a full pass over a large table does not
    // fit in 30 s. Float output must stay exact (shortest round-trip: any positive value).
    exec("SET statement_timeout = 0");
    exec("SET extra_float_digits = 1");
}

void HistoryConnection::exec(const std::string& sql) {
    exec_count(sql);
}

long HistoryConnection::exec_count(const std::string& sql) {
    Result r(PQexec(conn_.get(), sql.c_str()));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        throw CheckFailed(trimmed(PQresultErrorMessage(r.get())));
    }
    const char* tuples = PQcmdTuples(r.get());
    return tuples[0] == '\0' ? 0 : std::stol(tuples);
}

namespace {

Result query(PGconn* conn, const char* sql, const std::vector<std::string>& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params)
        values.push_back(p.c_str());
    Result r(PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
        throw CheckFailed("catalog query failed: " + trimmed(PQresultErrorMessage(r.get())));
    }
    return r;
}

// Columns in attnum order; nothing when no table or partitioned table has the name.
std::optional<std::vector<std::string>> columns_of(PGconn* conn, const std::string& schema,
                                                   const std::string& name) {
    Result r = query(conn,
                     "SELECT a.attname FROM pg_catalog.pg_class c "
                     "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                     "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
                     "     AND a.attnum > 0 AND NOT a.attisdropped "
                     "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') "
                     "ORDER BY a.attnum",
                     {schema, name});
    if (PQntuples(r.get()) == 0) return std::nullopt;
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        if (!PQgetisnull(r.get(), i, 0)) out.emplace_back(PQgetvalue(r.get(), i, 0));
    }
    return out;
}

std::string regclass_text(const std::string& schema, const std::string& name) {
    return audit::quote_identifier(schema) + "." + audit::quote_identifier(name);
}

std::vector<std::string> primary_key_of(PGconn* conn, const std::string& relation) {
    Result r = query(conn,
                     "SELECT a.attname FROM pg_catalog.pg_index i "
                     "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
                     "     AND a.attnum = ANY (i.indkey) "
                     "WHERE i.indisprimary AND i.indrelid = $1::pg_catalog.regclass "
                     "ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)",
                     {relation});
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(PQntuples(r.get())));
    for (int i = 0; i < PQntuples(r.get()); ++i)
        out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
}

// The planner's row count, summed over a partitioned table's leaves: for the progress line.
double estimate_of(PGconn* conn, const std::string& relation) {
    Result r = query(conn,
                     "SELECT CASE WHEN c.relkind = 'p' THEN (SELECT pg_catalog.sum(l.reltuples) "
                     "  FROM pg_catalog.pg_partition_tree(c.oid) p "
                     "  JOIN pg_catalog.pg_class l ON l.oid = p.relid "
                     "  WHERE p.isleaf AND l.reltuples >= 0) ELSE c.reltuples END "
                     "FROM pg_catalog.pg_class c WHERE c.oid = $1::pg_catalog.regclass",
                     {relation});
    if (PQntuples(r.get()) == 0 || PQgetisnull(r.get(), 0, 0)) return -1;
    return std::strtod(PQgetvalue(r.get(), 0, 0), nullptr);
}

}  // namespace

std::optional<CheckedTable> HistoryConnection::read_table(const config::AuditedTable& table) {
    PGconn* conn = conn_.get();
    auto columns = columns_of(conn, table.schema, table.name);
    if (!columns) return std::nullopt;
    CheckedTable out;
    out.info.schema = table.schema;
    out.info.name = table.name;
    out.info.columns = *columns;
    out.info.on_delete = table.on_delete;
    std::string relation = regclass_text(table.schema, table.name);
    out.info.primary_key = primary_key_of(conn, relation);
    out.estimate = estimate_of(conn, relation);
    std::string rev = table.schema + "." + out.info.rev_name();
    auto rev_columns = columns_of(conn, table.schema, out.info.rev_name());
    if (!rev_columns) {
        out.problem = fmt::format(
            "its revision table {} does not exist (pgrev creates it when it starts)", rev);
        return out;
    }
    std::vector<std::string> needed = {"rev_created", "rev_isdelete"};
    needed.insert(needed.end(), columns->begin(), columns->end());
    for (const auto& c : needed) {
        if (std::find(rev_columns->begin(), rev_columns->end(), c) == rev_columns->end()) {
            out.problem = fmt::format("its revision table {} has no column {}", rev,
                                      audit::quote_identifier(c));
            return out;
        }
    }
    return out;
}

void HistoryConnection::stream(const std::string& sql, Progress& progress,
                               const std::function<void(const PGresult*)>& on_row) {
    PGconn* conn = conn_.get();
    if (PQsendQuery(conn, sql.c_str()) == 0 || PQsetSingleRowMode(conn) == 0) {
        throw CheckFailed(trimmed(PQerrorMessage(conn)));
    }
    long found = 0;
    std::string error;
    progress.tick(found);
    for (;;) {
        // Wait for the server without blocking in libpq, so the progress line keeps moving
        // while the server sorts and joins before its first row.
        while (PQisBusy(conn) != 0) {
            pollfd fd{PQsocket(conn), POLLIN, 0};
            if (poll(&fd, 1, 1000) < 0 && errno != EINTR) {
                throw CheckFailed(std::string("poll: ") + std::strerror(errno));
            }
            if (PQconsumeInput(conn) == 0) throw CheckFailed(trimmed(PQerrorMessage(conn)));
            progress.tick(found);
        }
        Result r(PQgetResult(conn));
        if (!r) break;
        auto status = PQresultStatus(r.get());
        if (status == PGRES_SINGLE_TUPLE) {
            on_row(r.get());
            progress.tick(++found);
        } else if (status != PGRES_TUPLES_OK && error.empty()) {
            error = trimmed(PQresultErrorMessage(r.get()));
        }
    }
    if (!error.empty()) throw CheckFailed(error);
}

}  // namespace pgrev::server
