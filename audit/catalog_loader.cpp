#include "audit/catalog_loader.h"

#include <fmt/format.h>
#include <libpq-fe.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "audit/catalog_query.h"
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
    values.reserve(params.size());
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
    std::vector<std::string> types;  // as declared, with typmod (format_type)
    // The type a revision column gets: the declared one, or for a domain its base type with
    // typmod, so that the domain's DEFAULT, NOT NULL and CHECK do not apply to history (a
    // key-only DELETE revision holds NULL, and a NOT NULL domain column can be added to a
    // history that has rows).
    std::vector<std::string> rev_types;
    std::vector<ColumnType> type_ids;  // atttypid, atttypmod
};

Columns read_columns(PGconn* conn, const std::string& schema, const std::string& name) {
    Result r = exec(conn,
                    "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), "
                    "       pg_catalog.pg_get_userbyid(c.relowner), "
                    "       (WITH RECURSIVE d(typid, typmod) AS ("
                    "          SELECT a.atttypid, a.atttypmod"
                    "          UNION ALL SELECT t.typbasetype, t.typtypmod FROM d"
                    "          JOIN pg_catalog.pg_type t ON t.oid = d.typid"
                    "          WHERE t.typtype = 'd')"
                    "        SELECT pg_catalog.format_type(d.typid, d.typmod) FROM d"
                    "        JOIN pg_catalog.pg_type t ON t.oid = d.typid"
                    "        WHERE t.typtype <> 'd'), "
                    "       a.atttypid::pg_catalog.int8, a.atttypmod "
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
        out.rev_types.emplace_back(PQgetvalue(r.get(), i, 3));
        out.type_ids.push_back({static_cast<std::uint32_t>(std::stoul(PQgetvalue(r.get(), i, 4))),
                                static_cast<std::int32_t>(std::stol(PQgetvalue(r.get(), i, 5)))});
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
    out.reserve(static_cast<std::size_t>(PQntuples(r.get())));
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
                       " application_name=pgrev connect_timeout=10"
                       // Catalog reads and CREATE TABLE must never hang a session for long.
                       // Only pg_catalog on the search_path: an operator, function or type
                       // of a user's schema cannot answer pgrev's catalog queries, and
                       // format_type names every other type with its schema.
                       " options='-c lock_timeout=5000 -c statement_timeout=30000"
                       " -c search_path=pg_catalog'";
    // The same TLS as the sessions' upstream leg (tls.upstream), in libpq's words. Files only
    // when configured (verify-* without ca_file was refused when the configuration loaded);
    // with none, libpq still looks in ~/.postgresql/ of the user pgrev runs as (root.crt:
    // under require it verifies against it if it exists; postgresql.crt/.key: sent as the
    // client certificate): libpq's own defaults, left alone.
    const config::UpstreamTls& tls = config.tls.upstream;
    info += std::string(" sslmode=") + config::sslmode_name(tls.sslmode);
    if (!tls.ca_file.empty()) info += " sslrootcert=" + conninfo_value(tls.ca_file);
    if (!tls.cert_file.empty()) info += " sslcert=" + conninfo_value(tls.cert_file);
    if (!tls.key_file.empty()) info += " sslkey=" + conninfo_value(tls.key_file);
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
                      " (rev_id pg_catalog.uuid PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(), "
                      "rev_created pg_catalog.float8 NOT NULL, "
                      "rev_isdelete pg_catalog.bool NOT NULL DEFAULT false";
    for (std::size_t i = 0; i < table.columns.size(); ++i) {
        ddl += ", " + quote_identifier(table.columns[i]) + " " + types[i];
    }
    return ddl + ")";
}

namespace {

void create_rev_table(PGconn* conn, const AuditedTableInfo& info, const Columns& cols) {
    std::string rev_sql = quote_identifier(info.schema) + "." + quote_identifier(info.rev_name());
    exec(conn, "BEGIN");
    exec(conn, rev_table_ddl(info, cols.rev_types));
    // The rev table belongs to the table's owner, and whoever may change the table may append
    // to its history (and read it); nobody gets UPDATE or DELETE on it.
    exec(conn, "ALTER TABLE " + rev_sql + " OWNER TO " + quote_identifier(cols.owner));
    Result grantees =
        exec(conn,
             "SELECT r.rolname FROM pg_catalog.pg_roles r "
             "WHERE r.rolname <> $2 AND r.rolname NOT LIKE 'pg\\_%' AND ("
             " pg_catalog.has_table_privilege(r.oid, $1, 'INSERT') OR"
             " pg_catalog.has_table_privilege(r.oid, $1, 'UPDATE') OR"
             " pg_catalog.has_table_privilege(r.oid, $1, 'DELETE'))",
             {quote_identifier(info.schema) + "." + quote_identifier(info.name), cols.owner});
    for (int i = 0; i < PQntuples(grantees.get()); ++i) {
        exec(conn, "GRANT SELECT, INSERT ON " + rev_sql + " TO " +
                       quote_identifier(PQgetvalue(grantees.get(), i, 0)));
    }
    exec(conn, "COMMIT");
}

// A column of the table whose revision column has another type: what to tell the DBA, after
// converting the history when `convert` (a migration run through pgrev changed the type).
std::string check_rev_type(PGconn* conn, const AuditedTableInfo& info, const Columns& cols,
                           std::size_t i, const std::string& rev_type, bool convert,
                           CatalogLoadReport& report) {
    const std::string& c = cols.names[i];
    // A domain's base type is what pgrev creates; the domain itself is accepted too.
    if (rev_type == cols.types[i] || rev_type == cols.rev_types[i]) return {};
    std::string rev_qualified = info.schema + "." + info.rev_name();
    std::string rev_sql = quote_identifier(info.schema) + "." + quote_identifier(info.rev_name());
    std::string alter = "ALTER TABLE " + rev_sql + " ALTER COLUMN " + quote_identifier(c) +
                        " TYPE " + cols.rev_types[i] + " USING " + quote_identifier(c) +
                        "::" + cols.rev_types[i];
    if (convert) {
        try {
            exec(conn, alter);
            report.retyped.push_back(rev_qualified + "." + c + " (" + rev_type + " to " +
                                     cols.rev_types[i] + ")");
            return {};
        } catch (const CatalogUnavailable& e) {
            return fmt::format(
                "column {} of {} is of type {} now but its revision column in {} is of type {}, "
                "and converting the history failed ({}): convert or move the old revisions "
                "yourself, e.g. {}",
                quote_identifier(c), info.schema + "." + info.name, cols.types[i], rev_qualified,
                rev_type, e.what(), alter);
        }
    }
    return fmt::format(
        "column {} of {} is of type {} but its revision column in {} is of type {}: change it "
        "on PostgreSQL ({}) so its history records the values as stored",
        quote_identifier(c), info.schema + "." + info.name, cols.types[i], rev_qualified, rev_type,
        alter);
}

// What is wrong with an existing revision table, or empty. With `adapt`, columns the table
// gained since are added to it first, and columns whose type changed are converted (a
// migration run through pgrev).
std::string check_rev_table(PGconn* conn, const AuditedTableInfo& info, const Columns& cols,
                            const Columns& rev, bool adapt, CatalogLoadReport& report) {
    std::string rev_qualified = info.schema + "." + info.rev_name();
    for (const char* needed : {"rev_id", "rev_created", "rev_isdelete"}) {
        if (std::find(rev.names.begin(), rev.names.end(), needed) == rev.names.end()) {
            return fmt::format("revision table {} has no column {}", rev_qualified, needed);
        }
    }
    for (std::size_t i = 0; i < cols.names.size(); ++i) {
        const std::string& c = cols.names[i];
        auto at = std::find(rev.names.begin(), rev.names.end(), c);
        if (at != rev.names.end()) {
            std::string problem = check_rev_type(
                conn, info, cols, i, rev.types[static_cast<std::size_t>(at - rev.names.begin())],
                adapt, report);
            if (!problem.empty()) return problem;
            continue;
        }
        if (adapt) {
            std::string rev_sql =
                quote_identifier(info.schema) + "." + quote_identifier(info.rev_name());
            try {
                exec(conn, "ALTER TABLE " + rev_sql + " ADD COLUMN IF NOT EXISTS " +
                               quote_identifier(c) + " " + cols.rev_types[i]);
                report.altered.push_back(rev_qualified + "." + c);
                continue;
            } catch (const CatalogUnavailable& e) {
                return fmt::format(
                    "revision table {} lacks column {} of {}, and adding it "
                    "failed: {}",
                    rev_qualified, quote_identifier(c), info.schema + "." + info.name, e.what());
            }
        }
        return fmt::format(
            "revision table {} lacks column {} of {}: add it on PostgreSQL "
            "(ALTER TABLE {} ADD COLUMN {} {}) so its history can be kept",
            rev_qualified, quote_identifier(c), info.schema + "." + info.name, rev_qualified,
            quote_identifier(c), cols.rev_types[i]);
    }
    return {};
}

// Partitions and inheritance children of `table`, at any depth.
void read_children(PGconn* conn, const config::AuditedTable& table, std::vector<ChildTable>& out) {
    Result r = exec(conn,
                    "WITH RECURSIVE tree AS ("
                    "  SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = "
                    "    (pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2))"
                    "    ::pg_catalog.regclass"
                    "  UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i"
                    "  JOIN tree t ON i.inhparent = t.inhrelid) "
                    "SELECT n.nspname, c.relname FROM tree "
                    "JOIN pg_catalog.pg_class c ON c.oid = tree.inhrelid "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
                    {table.schema, table.name});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back(
            {PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1), table.qualified_name()});
    }
}

bool same_child(const ChildTable& known, const ChildTable& pending) {
    return known.name == pending.name && (pending.schema.empty() || pending.schema == known.schema);
}

}  // namespace

CatalogLoadReport load_catalog(const config::Config& config, const std::string& database,
                               std::uint64_t generation, CatalogLoadMode mode,
                               const std::vector<ChildTable>& pending) {
    Conn conn = connect(config, database);
    CatalogLoadReport report;
    std::vector<AuditedTableInfo> present;
    CatalogLinks links;
    for (const auto& configured : config.audit.tables) {
        Columns cols = read_columns(conn.get(), configured.schema, configured.name);
        if (!cols.exists) continue;  // not in this database (yet)
        AuditedTableInfo info{
            configured.schema,    configured.name,
            cols.names,           read_primary_key(conn.get(), configured.schema, configured.name),
            configured.on_delete, {},
            cols.type_ids};
        Columns rev = read_columns(conn.get(), configured.schema, info.rev_name());
        const std::string kind_problem = rev_relation_kind_problem(conn.get(), info);
        std::string problem = kind_problem;
        if (!problem.empty()) {
            // Not a table pgrev could create or check: CREATE TABLE IF NOT EXISTS would skip.
        } else if (!rev.exists && config.audit.create_rev_tables) {
            create_rev_table(conn.get(), info, cols);
            report.created.push_back(configured.schema + "." + info.rev_name());
        } else if (!rev.exists) {
            problem = fmt::format(
                "revision table {}.{} does not exist and audit.create_rev_tables is false: "
                "create it, or let pgrev create it",
                configured.schema, info.rev_name());
        } else {
            problem = check_rev_table(
                conn.get(), info, cols, rev,
                mode == CatalogLoadMode::Adapt && config.audit.create_rev_tables, report);
        }
        if (problem.empty()) {
            problem = rev_owner_problem(conn.get(), info, cols.owner);
            if (!problem.empty() && mode == CatalogLoadMode::Adapt &&
                config.audit.create_rev_tables) {
                // The table changed hands: its history follows, as when pgrev created it.
                try {
                    exec(conn.get(), "ALTER TABLE " + quote_identifier(info.schema) + "." +
                                         quote_identifier(info.rev_name()) + " OWNER TO " +
                                         quote_identifier(cols.owner));
                    problem = rev_owner_problem(conn.get(), info, cols.owner);
                } catch (const CatalogUnavailable&) {
                    // The problem stands.
                }
            }
        }
        if (problem.empty()) problem = rev_diversion_problem(conn.get(), info);
        if (!problem.empty()) {
            if (mode == CatalogLoadMode::Strict) {
                throw RevTableMismatch("database \"" + database + "\": " + problem);
            }
            info.unusable = problem;
        }
        std::size_t first_child = links.children.size();
        std::size_t first_ancestor = links.ancestors.size();
        read_children(conn.get(), configured, links.children);
        read_ancestors(conn.get(), configured.schema, configured.name, false, links.ancestors);
        // Views of the table and of every table its rows are reached through; of its history.
        std::vector<std::string> schemas = {configured.schema};
        std::vector<std::string> names = {configured.name};
        for (std::size_t i = first_child; i < links.children.size(); ++i) {
            schemas.push_back(links.children[i].schema);
            names.push_back(links.children[i].name);
        }
        for (std::size_t i = first_ancestor; i < links.ancestors.size(); ++i) {
            schemas.push_back(links.ancestors[i].schema);
            names.push_back(links.ancestors[i].name);
        }
        read_views(conn.get(), schemas, names, configured.qualified_name(), links.children);
        if (kind_problem.empty()) {
            read_views(conn.get(), {configured.schema}, {info.rev_name()},
                       configured.schema + "." + info.rev_name(), links.children);
        }
        if (kind_problem.empty()) {
            read_ancestors(conn.get(), configured.schema, info.rev_name(), true, links.ancestors);
            read_rev_dependencies(conn.get(), configured.schema, info.rev_name(),
                                  links.rev_dependencies);
        }
        present.push_back(std::move(info));
    }
    for (const auto& p : pending) {
        // One whose transaction rolled back stays pending (a table of that name is taken
        // for a child) until pgrev restarts: refusing too much is safe, too little is not.
        bool known = std::any_of(links.children.begin(), links.children.end(),
                                 [&](const ChildTable& c) { return same_child(c, p); });
        if (known) {
            report.settled.push_back(p);
        } else {
            links.children.push_back(p);
        }
    }
    read_server_side_code(conn.get(), config.audit.tables, links);
    report.snapshot = std::make_shared<CatalogSnapshot>(config.audit.tables, std::move(present),
                                                        generation, std::move(links));
    return report;
}

std::vector<std::string> list_databases(const config::Config& config) {
    Conn conn = connect(config, config.admin.database);
    Result r = exec(conn.get(),
                    "SELECT datname FROM pg_catalog.pg_database "
                    "WHERE datallowconn AND NOT datistemplate ORDER BY datname");
    std::vector<std::string> out;
    out.reserve(static_cast<std::size_t>(PQntuples(r.get())));
    for (int i = 0; i < PQntuples(r.get()); ++i)
        out.emplace_back(PQgetvalue(r.get(), i, 0));
    return out;
}

QueryResult catalog_exec(PGconn* conn, const std::string& sql,
                         const std::vector<std::string>& params) {
    return QueryResult(exec(conn, sql, params).release());
}

}  // namespace pgrev::audit
