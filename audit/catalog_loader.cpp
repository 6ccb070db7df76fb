#include "audit/catalog_loader.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "audit/sql_lexer.h"

namespace pgrev::audit {

namespace {

struct ConnCloser {
    void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClearer {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnCloser>;
using Result = std::unique_ptr<PGresult, ResultClearer>;

std::string conninfo_value(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    return out + "'";
}

Conn connect(const config::Config& config, const std::string& database) {
    Conn conn(PQconnectdb(admin_conninfo(config, database).c_str()));
    if (PQstatus(conn.get()) != CONNECTION_OK) {
        std::string why = PQerrorMessage(conn.get());
        while (!why.empty() && (why.back() == '\n' || why.back() == ' '))
            why.pop_back();
        throw CatalogUnavailable(
            fmt::format("cannot connect as admin role \"{}\" to database "
                        "\"{}\" at {}: {}",
                        config.admin.user, database, config.upstream.to_string(), why));
    }
    return conn;
}

Result exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const auto& p : params)
        values.push_back(p.c_str());
    Result r(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                          values.data(), nullptr, nullptr, 0));
    auto status = PQresultStatus(r.get());
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        std::string why = PQresultErrorMessage(r.get());
        while (!why.empty() && why.back() == '\n')
            why.pop_back();
        throw CatalogUnavailable("catalog query failed: " + why);
    }
    return r;
}

struct Columns {
    bool exists = false;
    std::string owner;
    std::vector<std::string> names;
    std::vector<std::string> types;
};

Columns read_columns(PGconn* conn, const std::string& schema, const std::string& name) {
    Result r = exec(conn,
                    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
                    "       pg_catalog.pg_get_userbyid(c.relowner) "
                    "FROM pg_catalog.pg_class c "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid "
                    "     AND a.attnum > 0 AND NOT a.attisdropped "
                    "WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p') "
                    "ORDER BY a.attnum",
                    {schema, name});
    Columns out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.exists = true;
        out.owner = PQgetvalue(r.get(), i, 2);
        if (PQgetisnull(r.get(), i, 0)) continue;
        out.names.emplace_back(PQgetvalue(r.get(), i, 0));
        out.types.emplace_back(PQgetvalue(r.get(), i, 1));
    }
    return out;
}

std::vector<std::string> read_primary_key(PGconn* conn, const std::string& schema,
                                          const std::string& name) {
    Result r = exec(conn,
                    "SELECT a.attname FROM pg_catalog.pg_index i "
                    "JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid "
                    "     AND a.attnum = ANY (i.indkey) "
                    "WHERE i.indisprimary AND i.indrelid = "
                    "      (pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2))"
                    "      ::pg_catalog.regclass "
                    "ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)",
                    {schema, name});
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
}

}  // namespace

std::string admin_conninfo(const config::Config& config, const std::string& database) {
    std::string info = "host=" + conninfo_value(config.upstream.host) +
                       " port=" + std::to_string(config.upstream.port) +
                       " user=" + conninfo_value(config.admin.user) +
                       " dbname=" + conninfo_value(database) +
                       " application_name=pgrev connect_timeout=10 sslmode=prefer"
                       // Catalog reads and CREATE TABLE must never hang a session for long.
                       " options='-c lock_timeout=5000 -c statement_timeout=30000'";
    if (!config.admin.password_env.empty()) {
        if (const char* pw = std::getenv(config.admin.password_env.c_str()); pw != nullptr) {
            info += " password=" + conninfo_value(pw);
        }
    }
    return info;
}

std::string rev_table_ddl(const AuditedTableInfo& table, const std::vector<std::string>& types) {
    std::string ddl = "CREATE TABLE IF NOT EXISTS " + quote_identifier(table.schema) + "." +
                      quote_identifier(table.rev_name()) +
                      " (rev_id uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(), "
                      "rev_created double precision NOT NULL, "
                      "rev_isdelete boolean NOT NULL DEFAULT false";
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
        ddl += ", " + quote_identifier(table.columns[i]) + " " + types[i];
    }
    return ddl + ")";
}

CatalogLoadReport load_catalog(const config::Config& config, const std::string& database,
                               std::uint64_t generation) {
    Conn conn = connect(config, database);
    CatalogLoadReport report;
    std::vector<AuditedTableInfo> present;
    for (const auto& configured : config.audit.tables) {
        Columns cols = read_columns(conn.get(), configured.schema, configured.name);
        if (!cols.exists) continue;  // not in this database (yet)
        AuditedTableInfo info{configured.schema, configured.name, cols.names,
                              read_primary_key(conn.get(), configured.schema, configured.name),
                              configured.on_delete};
        Columns rev = read_columns(conn.get(), configured.schema, info.rev_name());
        std::string rev_qualified = configured.schema + "." + info.rev_name();
        if (!rev.exists) {
            if (!config.audit.create_rev_tables) {
                throw RevTableMismatch(fmt::format(
                    "revision table {} of {} does not exist in database \"{}\" and "
                    "audit.create_rev_tables is false: create it, or let pgrev create it",
                    rev_qualified, configured.qualified_name(), database));
            }
            exec(conn.get(), "BEGIN");
            exec(conn.get(), rev_table_ddl(info, cols.types));
            // The rev table belongs to the table's owner, and whoever may change the table may
            // append to its history (and read it); nobody gets UPDATE or DELETE on it.
            std::string rev_sql =
                quote_identifier(configured.schema) + "." + quote_identifier(info.rev_name());
            exec(conn.get(),
                 "ALTER TABLE " + rev_sql + " OWNER TO " + quote_identifier(cols.owner));
            Result grantees =
                exec(conn.get(),
                     "SELECT r.rolname FROM pg_catalog.pg_roles r "
                     "WHERE r.rolname <> $2 AND r.rolname NOT LIKE 'pg\\_%' AND ("
                     " pg_catalog.has_table_privilege(r.oid, $1, 'INSERT') OR"
                     " pg_catalog.has_table_privilege(r.oid, $1, 'UPDATE') OR"
                     " pg_catalog.has_table_privilege(r.oid, $1, 'DELETE'))",
                     {quote_identifier(configured.schema) + "." + quote_identifier(configured.name),
                      cols.owner});
            for (int i = 0; i < PQntuples(grantees.get()); ++i) {
                exec(conn.get(), "GRANT SELECT, INSERT ON " + rev_sql + " TO " +
                                     quote_identifier(PQgetvalue(grantees.get(), i, 0)));
            }
            exec(conn.get(), "COMMIT");
            report.created.push_back(rev_qualified);
        } else {
            for (const char* needed : {"rev_id", "rev_created", "rev_isdelete"}) {
                if (std::find(rev.names.begin(), rev.names.end(), needed) == rev.names.end()) {
                    throw RevTableMismatch(
                        fmt::format("revision table {} in database \"{}\" has no column {}",
                                    rev_qualified, database, needed));
                }
            }
            for (const auto& c : cols.names) {
                if (std::find(rev.names.begin(), rev.names.end(), c) == rev.names.end()) {
                    throw RevTableMismatch(fmt::format(
                        "revision table {} in database \"{}\" lacks column {} of {}: add it "
                        "(ALTER TABLE {} ADD COLUMN ...) so its history can be kept",
                        rev_qualified, database, quote_identifier(c), configured.qualified_name(),
                        rev_qualified));
                }
            }
        }
        present.push_back(std::move(info));
    }
    report.snapshot =
        std::make_shared<CatalogSnapshot>(config.audit.tables, std::move(present), generation);
    return report;
}

std::vector<std::string> list_databases(const config::Config& config) {
    Conn conn = connect(config, config.admin.database);
    Result r = exec(conn.get(),
                    "SELECT datname FROM pg_catalog.pg_database "
                    "WHERE datallowconn AND NOT datistemplate ORDER BY datname");
    std::vector<std::string> out;
    for (int i = 0; i < PQntuples(r.get()); ++i)
        out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
}

}  // namespace pgrev::audit
