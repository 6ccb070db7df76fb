// The one plain struct pgrev runs from. config/ is the only part of pgrev that reads YAML:
// everything else receives a validated Config.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::config {

// A TCP endpoint written "host:port" in the file ("[::1]:6432" for IPv6 literals).
struct Endpoint {
    std::string host;
    std::uint16_t port = 0;

    std::string to_string() const;  // "host:port", brackets around IPv6 literals
};

// What a DELETE revision records (`delete:` of an audited table).
enum class DeleteRecord {
    KeyOnly,  // primary key columns, NULL elsewhere (sqlalchemy-audit's behaviour)
    FullRow,  // the whole deleted row
};

// The revision table of a table is "<name>_rev", in the same schema. The suffix is spelled here
// only: everything that names or recognises a revision table goes through these.
inline constexpr std::string_view kRevSuffix = "_rev";
inline std::string rev_name(std::string_view table) {
    std::string name(table);
    name += kRevSuffix;
    return name;
}
// `name` is the revision table's name of `table`.
inline bool is_rev_name(std::string_view name, std::string_view table) {
    return name.size() == table.size() + kRevSuffix.size() && name.starts_with(table) &&
           name.ends_with(kRevSuffix);
}

// The names are catalog names (pg_namespace.nspname, pg_class.relname): the file's names are
// folded to lower case as PostgreSQL folds unquoted identifiers, unless written in double
// quotes inside the YAML string ('"MixedCase"', 'billing."Invoice"').
struct AuditedTable {
    std::string schema = "public";
    std::string name;
    DeleteRecord on_delete = DeleteRecord::KeyOnly;

    // "schema.name", a part double-quoted only when SQL needs it (upper case, odd characters),
    // so the result reads back through parse_table_name and can be pasted into SQL.
    std::string qualified_name() const;
};

// The role pgrev itself uses for catalog reads and creating <table>_rev.
struct Admin {
    std::string user = "postgres";
    std::string password_env;  // name of an environment variable holding the password; may be empty
    // Where pgrev connects at start to find the databases whose revision tables it prepares.
    std::string database = "postgres";
};

// A function or procedure, by catalog names (folded as table names are, see AuditedTable).
struct RoutineName {
    std::string schema = "public";
    std::string name;
};

struct Audit {
    std::vector<AuditedTable> tables;
    bool create_rev_tables = true;
    // Policy switches (audit.allow): what pgrev refuses by default because it would change an
    // audited table without a revision, or change the history itself (README, Refusals).
    bool allow_truncate = false;
    bool allow_copy_from = false;
    bool allow_merge = false;
    bool allow_unparsable = false;
    bool allow_rev_table_changes = false;
    // Code the server runs on a client's behalf that names an audited table, and DDL that
    // changes an audited table's rows without INSERT/UPDATE/DELETE (README, Refusals).
    bool allow_do_blocks = false;            // DO whose body names an audited table
    bool allow_routine_definitions = false;  // CREATE FUNCTION/PROCEDURE whose body names one
    bool allow_routine_calls = false;        // calls of routines whose source names one
    bool allow_triggers = false;             // triggers whose function names one
    bool allow_rules = false;                // rules whose action writes one
    bool allow_column_rewrites = false;      // ALTER COLUMN ... TYPE ... USING
    bool allow_partition_changes = false;    // rows joining or leaving an audited table by DDL
    bool allow_rev_backfill = false;         // INSERT / COPY FROM into a revision table
    // audit.trusted_routines: functions and procedures the DBA vouches for: defining, calling
    // them and triggers running them are let through whatever their source names.
    std::vector<RoutineName> trusted_routines;

    bool is_trusted(std::string_view schema, std::string_view name) const;
};

struct Limits {
    std::size_t max_clients = 1000;
    // Largest message a client may send; PostgreSQL's own cap is 1 GiB.
    std::size_t max_message_size = 64 * 1024 * 1024;
    // From accept until the server's first ReadyForQuery (covers the whole authentication).
    std::chrono::milliseconds startup_timeout{std::chrono::seconds(60)};
    // A session idle (no message either way) this long is closed; zero means never.
    std::chrono::milliseconds idle_timeout{0};
};

enum class LogLevel { Trace, Debug, Info, Warn, Error };

// tls.client.sslmode: what pgrev, as a TLS server, asks of its clients. A server cannot start
// TLS itself, so allow and prefer mean the same here: TLS when the client asks for it.
enum class ClientTlsMode { Disable, Allow, Prefer, Require };

// tls.upstream.sslmode: pgrev as a TLS client of PostgreSQL, with libpq's meanings.
enum class UpstreamTlsMode { Disable, Allow, Prefer, Require, VerifyCa, VerifyFull };

// pgrev as TLS server to its clients. File names are absolute (the loader resolves names
// relative to the configuration file's directory).
struct ClientTls {
    // Default: prefer when a certificate is configured, disable otherwise.
    ClientTlsMode sslmode = ClientTlsMode::Disable;
    std::string cert_file;  // required unless sslmode is disable
    std::string key_file;   // required with cert_file
    std::string ca_file;    // optional: ask for client certificates and verify them against it
};

// pgrev as TLS client of PostgreSQL: sessions, catalog connections and cancel requests.
struct UpstreamTls {
    UpstreamTlsMode sslmode = UpstreamTlsMode::Prefer;
    std::string ca_file;    // required for verify-ca and verify-full; with require, verifies too
    std::string cert_file;  // optional client certificate presented to PostgreSQL
    std::string key_file;   // required with cert_file
};

struct Tls {
    ClientTls client;
    UpstreamTls upstream;
};

// The libpq spelling of a mode ("verify-full"), for conninfo strings and log lines.
const char* sslmode_name(ClientTlsMode mode);
const char* sslmode_name(UpstreamTlsMode mode);

struct Config {
    Endpoint listen{"127.0.0.1", 6432};
    Endpoint upstream;  // required
    Admin admin;
    Audit audit;
    Limits limits;
    Tls tls;
    LogLevel log_level = LogLevel::Info;
    unsigned workers = 0;  // I/O threads; 0 means one per core
};

// Every problem with a configuration file: the message is one line of the form
// "FILE:LINE: KEY: what is wrong" (LINE is 1-based; omitted when the file could not be read).
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

Config load_config_file(const std::string& path);
// Same rules; `source_name` stands in for the file name in error messages.
Config load_config_string(const std::string& yaml, const std::string& source_name);

// Parses "host:port" / "[v6]:port"; throws std::invalid_argument with a reason.
Endpoint parse_endpoint(const std::string& text);

// Parses "table" (schema public) or "schema.table" with the folding and quoting described at
// AuditedTable; throws std::invalid_argument with a reason. on_delete is left at its default.
AuditedTable parse_table_name(const std::string& text);

}  // namespace pgrev::config
