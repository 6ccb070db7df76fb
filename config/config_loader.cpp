// YAML file -> Config. Every check happens here and in the readers it uses (field_reader.h,
// tls_section.h), once, so that an operator sees the mistake at start with its line, not at
// the first client; each message is one line "FILE:LINE: KEY: what is wrong, and what is
// allowed".
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/field_reader.h"
#include "config/tls_section.h"

namespace pgrev::config {
namespace {

using detail::describe;
using detail::Field;

class Loader : private detail::FieldReader {
  public:
    using FieldReader::FieldReader;

    Config load(const std::string& yaml) const {
        std::vector<YAML::Node> documents;
        try {
            documents = YAML::LoadAll(yaml);
        } catch (const YAML::Exception& e) {
            fail(e.mark.is_null() ? 1 : e.mark.line + 1, "", "not valid YAML: " + e.msg);
        }
        if (documents.empty() || documents[0].IsNull()) {
            fail(1, "", "the file is empty; it needs at least \"upstream: host:port\"");
        }
        if (documents.size() > 1) {
            fail(line_of(documents[1], 1), "",
                 "only one YAML document is allowed (remove the second \"---\")");
        }
        const Field root{documents[0], "", line_of(documents[0], 1)};
        if (!root.value.IsMap()) {
            fail(root.line, "",
                 "expected a map of settings (\"key: value\" lines), got " + describe(root.value));
        }
        Config config;
        walk_map(root, {"listen", "upstream", "admin", "audit", "limits", "tls", "log", "workers"},
                 [&](std::string_view key, const Field& f) {
                     if (key == "listen") config.listen = endpoint(f);
                     if (key == "upstream") config.upstream = endpoint(f);
                     if (key == "admin") admin(f, config.admin);
                     if (key == "audit") audit(f, config.audit);
                     if (key == "limits") limits(f, config.limits);
                     if (key == "tls") detail::read_tls(*this, f, config.tls);
                     if (key == "log") log(f, config);
                     if (key == "workers") {
                         config.workers = static_cast<unsigned>(count(f, 0, 1024));
                     }
                 });
        if (config.upstream.port == 0) {  // parse_endpoint never yields port 0
            fail(1, "upstream", "required key is missing (host:port of PostgreSQL)");
        }
        return config;
    }

  private:
    Endpoint endpoint(const Field& f) const {
        const std::string text =
            scalar(f, "host:port as text (quote IPv6 literals: \"[::1]:6432\")");
        try {
            return parse_endpoint(text);
        } catch (const std::invalid_argument& e) {
            fail(f, "\"" + text + "\": " + e.what());
        }
    }

    void admin(const Field& f, Admin& admin) const {
        walk_map(
            f, {"user", "password_env", "database"}, [&](std::string_view key, const Field& v) {
                if (key == "database") {
                    admin.database = scalar(v, "a database name");
                    if (admin.database.empty()) fail(v, "must not be empty");
                }
                if (key == "user") {
                    admin.user = scalar(v, "a role name");
                    if (admin.user.empty()) fail(v, "must not be empty");
                }
                if (key == "password_env") {
                    admin.password_env = scalar(v, "the name of an environment variable");
                    for (char c : admin.password_env) {
                        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) {
                            fail(v, "\"" + admin.password_env +
                                        "\" is not an environment variable name (letters, digits, "
                                        "_); write the name of the variable, not the password");
                        }
                    }
                }
            });
    }

    void audit(const Field& f, Audit& audit) const {
        walk_map(f, {"tables", "create_rev_tables", "allow", "trusted_routines"},
                 [&](std::string_view key, const Field& v) {
                     if (key == "create_rev_tables") audit.create_rev_tables = boolean(v);
                     if (key == "tables") tables(v, audit.tables);
                     if (key == "allow") allowances(v, audit);
                     if (key == "trusted_routines") trusted_routines(v, audit.trusted_routines);
                 });
    }

    // audit.allow: [truncate, copy_from, ...]: the names are a contract (README).
    void allowances(const Field& f, Audit& audit) const {
        static constexpr std::pair<std::string_view, bool Audit::*> kAllowances[] = {
            {"truncate", &Audit::allow_truncate},
            {"copy_from", &Audit::allow_copy_from},
            {"merge", &Audit::allow_merge},
            {"unparsable", &Audit::allow_unparsable},
            {"rev_table_changes", &Audit::allow_rev_table_changes},
            {"do_blocks", &Audit::allow_do_blocks},
            {"routine_definitions", &Audit::allow_routine_definitions},
            {"routine_calls", &Audit::allow_routine_calls},
            {"triggers", &Audit::allow_triggers},
            {"rules", &Audit::allow_rules},
            {"column_rewrites", &Audit::allow_column_rewrites},
            {"partition_changes", &Audit::allow_partition_changes},
            {"rev_backfill", &Audit::allow_rev_backfill},
        };
        std::string names;
        for (const auto& [name, member] : kAllowances) {
            names += names.empty() ? "" : ", ";
            names += name;
        }
        if (f.value.IsNull()) return;
        if (!f.value.IsSequence()) {
            fail(f, "expected a list such as [truncate, copy_from], got " + describe(f.value));
        }
        for (std::size_t i = 0; i < f.value.size(); ++i) {
            const Field item{f.value[i], f.path + "[" + std::to_string(i) + "]",
                             line_of(f.value[i], f.line)};
            std::string what = scalar(item, "one of " + names);
            bool known = false;
            for (const auto& [name, member] : kAllowances) {
                if (what == name) {
                    audit.*member = true;
                    known = true;
                }
            }
            if (!known) fail(item, "unknown allowance \"" + what + "\"; allowed are " + names);
        }
    }

    // audit.trusted_routines: [schema.name, ...], folded and quoted as table names are.
    void trusted_routines(const Field& f, std::vector<RoutineName>& out) const {
        if (f.value.IsNull()) return;
        if (!f.value.IsSequence()) {
            fail(f, "expected a list of routine names, e.g. [public.archive_old], got " +
                        describe(f.value));
        }
        for (std::size_t i = 0; i < f.value.size(); ++i) {
            const Field item{f.value[i], f.path + "[" + std::to_string(i) + "]",
                             line_of(f.value[i], f.line)};
            std::string text = scalar(item, "a function or procedure name, schema.name");
            try {
                AuditedTable parsed = parse_table_name(text);
                out.push_back(RoutineName{std::move(parsed.schema), std::move(parsed.name)});
            } catch (const std::invalid_argument& e) {
                fail(item, e.what());
            }
        }
    }

    void tables(const Field& f, std::vector<AuditedTable>& out) const {
        if (f.value.IsNull()) return;
        if (!f.value.IsSequence()) {
            fail(f, "expected a list of table names, e.g. [reservation, billing.invoice], got " +
                        describe(f.value));
        }
        std::vector<int> lines;
        for (std::size_t i = 0; i < f.value.size(); ++i) {
            const Field item{f.value[i], f.path + "[" + std::to_string(i) + "]",
                             line_of(f.value[i], f.line)};
            AuditedTable table = audited_table(item);
            for (std::size_t j = 0; j < out.size(); ++j) {
                if (out[j].schema == table.schema && out[j].name == table.name) {
                    fail(item, table.qualified_name() + " is listed twice (first on line " +
                                   std::to_string(lines[j]) + ")");
                }
            }
            out.push_back(std::move(table));
            lines.push_back(item.line);
        }
        // Writes to a revision table come from pgrev itself; auditing one would only make
        // pgrev's own history writes recurse into <table>_rev_rev.
        for (std::size_t i = 0; i < out.size(); ++i) {
            for (const AuditedTable& other : out) {
                if (other.schema == out[i].schema && is_rev_name(out[i].name, other.name)) {
                    fail(lines[i], f.path + "[" + std::to_string(i) + "]",
                         out[i].qualified_name() + " is the revision table of " +
                             other.qualified_name() + "; list only " + other.qualified_name());
                }
            }
        }
    }

    AuditedTable audited_table(const Field& item) const {
        if (item.value.IsMap()) {
            std::optional<Field> name_field;
            DeleteRecord on_delete = DeleteRecord::KeyOnly;
            walk_map(item, {"name", "delete"}, [&](std::string_view key, const Field& v) {
                if (key == "name") name_field = v;
                if (key == "delete") on_delete = delete_record(v);
            });
            if (!name_field) fail(item, "missing \"name\" (e.g. {name: billing.invoice})");
            AuditedTable table = table_name(*name_field);
            table.on_delete = on_delete;
            return table;
        }
        return table_name(item);
    }

    AuditedTable table_name(const Field& f) const {
        const std::string text = scalar(
            f, "a table name (\"table\" or \"schema.table\") or a map {name: ..., delete: ...}");
        try {
            return parse_table_name(text);
        } catch (const std::invalid_argument& e) {
            fail(f, "table name \"" + text + "\": " + e.what());
        }
    }

    DeleteRecord delete_record(const Field& f) const {
        const std::string text = scalar(f, "key_only or full_row");
        if (text == "key_only") return DeleteRecord::KeyOnly;
        if (text == "full_row") return DeleteRecord::FullRow;
        fail(f, "expected key_only or full_row, got " + describe(f.value));
    }

    void limits(const Field& f, Limits& limits) const {
        walk_map(f, {"max_clients", "max_message_size", "startup_timeout", "idle_timeout"},
                 [&](std::string_view key, const Field& v) {
                     if (key == "max_clients") limits.max_clients = count(v, 1, 1'000'000);
                     if (key == "max_message_size") {
                         limits.max_message_size = byte_size(v, 1ull << 10, 1ull << 30);
                     }
                     if (key == "startup_timeout") limits.startup_timeout = duration(v, false);
                     if (key == "idle_timeout") limits.idle_timeout = duration(v, true);
                 });
    }

    void log(const Field& f, Config& config) const {
        static constexpr std::pair<std::string_view, LogLevel> kLevels[] = {
            {"trace", LogLevel::Trace},
            {"debug", LogLevel::Debug},
            {"info", LogLevel::Info},
            {"warn", LogLevel::Warn},
            {"error", LogLevel::Error}};
        walk_map(f, {"level"}, [&](std::string_view, const Field& v) {
            const std::string text = lower_ascii(scalar(v, "a log level"));
            for (auto [name, level] : kLevels) {
                if (text == name) {
                    config.log_level = level;
                    return;
                }
            }
            fail(v, "expected one of trace, debug, info, warn, error, got " + describe(v.value));
        });
    }
};

}  // namespace

Config load_config_string(const std::string& yaml, const std::string& source_name) {
    std::error_code ec;
    std::filesystem::path cwd = std::filesystem::current_path(ec);
    if (ec) {
        throw ConfigError(source_name + ": cannot find the current directory: " + ec.message());
    }
    return Loader(source_name, cwd).load(yaml);
}

Config load_config_file(const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) throw ConfigError(path + ": cannot read: " + std::strerror(errno));
    std::string text;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
        text.append(buffer, n);
    }
    const int read_errno = std::ferror(file) ? errno : 0;
    std::fclose(file);
    if (read_errno != 0) throw ConfigError(path + ": cannot read: " + std::strerror(read_errno));
    std::error_code ec;
    const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    if (ec) throw ConfigError(path + ": cannot find the file's directory: " + ec.message());
    return Loader(path, absolute.parent_path()).load(text);
}

}  // namespace pgrev::config
