// YAML file -> Config. The only place in pgrev that includes yaml-cpp. Every check happens
// here, once, so that an operator sees the mistake at start with its line, not at the first
// client; each message is one line "FILE:LINE: KEY: what is wrong, and what is allowed".
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/files.h"
#include "config/text.h"

namespace pgrev::config {
namespace {

using Keys = std::initializer_list<std::string_view>;

// A value in the file with what an error about it needs: where it is and what it is called.
struct Field {
    YAML::Node value;
    std::string path;  // "limits.max_clients", "audit.tables[2].delete"
    int line = 1;      // 1-based
};

std::string join(Keys keys) {
    std::string out;
    for (std::string_view k : keys) {
        out += (out.empty() ? "" : ", ") + std::string(k);
    }
    return out;
}

std::string describe(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Sequence:
            return "a list";
        case YAML::NodeType::Null:
            return "nothing";
        default:
            break;
    }
    // A value echoed back is cut short: the file may hold a block scalar or, when the wrong
    // file was passed, anything at all, and the useful part of the message comes after it.
    constexpr std::size_t kMaxEcho = 60;
    const std::string& text = node.Scalar();
    if (text.size() <= kMaxEcho) return "\"" + text + "\"";
    return "\"" + text.substr(0, kMaxEcho) + "...\"";
}

// A message must stay one line (a log line, a systemd status).
std::string one_line(std::string text) {
    for (char& c : text) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    return text;
}

// Splits "64MB" / "64 MB" / "64" into number and unit; false unless it starts with a whole
// number.
bool split_quantity(std::string_view text, std::uint64_t& number, std::string_view& unit) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (ec != std::errc() || end == text.data()) return false;
    unit = text.substr(static_cast<std::size_t>(end - text.data()));
    while (!unit.empty() && unit.front() == ' ') {
        unit.remove_prefix(1);
    }
    return unit.empty() || unit.front() != '.';  // a fraction is a malformed number, not a unit
}

class Loader {
  public:
    // `base_dir`: where relative file names in the file (tls.*) point from.
    Loader(std::string source, std::filesystem::path base_dir)
        : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

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
        walk_map(root,
                 {"listen", "upstream", "admin", "audit", "limits", "tls", "log", "workers"},
                 [&](std::string_view key, const Field& f) {
                     if (key == "listen") config.listen = endpoint(f);
                     if (key == "upstream") config.upstream = endpoint(f);
                     if (key == "admin") admin(f, config.admin);
                     if (key == "audit") audit(f, config.audit);
                     if (key == "limits") limits(f, config.limits);
                     if (key == "tls") tls(f, config.tls);
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
    [[noreturn]] void fail(int line, const std::string& path, const std::string& what) const {
        std::string message = source_ + ":" + std::to_string(line) + ": ";
        if (!path.empty()) message += path + ": ";
        throw ConfigError(one_line(message + what));
    }
    [[noreturn]] void fail(const Field& f, const std::string& what) const {
        fail(f.line, f.path, what);
    }

    // yaml-cpp marks a missing value ("key:" alone) on the following line; the key's line is
    // where the operator has to look, so such nodes take `fallback`.
    static int line_of(const YAML::Node& node, int fallback) {
        if (node.IsNull() || node.Mark().is_null()) return fallback;
        return node.Mark().line + 1;
    }

    // Calls visit(key, field) per entry after checking that every key is allowed and appears
    // once. A section left empty ("limits:" with everything commented out) means defaults.
    template <typename Visit>
    void walk_map(const Field& map, Keys allowed, Visit visit) const {
        if (map.value.IsNull()) return;
        if (!map.value.IsMap()) {
            fail(map, "expected a map with keys " + join(allowed) + ", got " + describe(map.value));
        }
        std::map<std::string, int> seen;  // key -> line
        for (const auto& entry : map.value) {
            const int key_line = line_of(entry.first, map.line);
            if (!entry.first.IsScalar()) fail(key_line, map.path, "a key must be a plain word");
            const std::string key = entry.first.Scalar();
            const std::string path = map.path.empty() ? key : map.path + "." + key;
            bool known = false;
            std::string suggestion;
            for (std::string_view a : allowed) {
                known = known || a == key;
                if (suggestion.empty() && detail::edit_distance(detail::lower_ascii(key), a) <= 2) {
                    suggestion = "did you mean " + std::string(a) + "? ";
                }
            }
            if (!known) {
                fail(key_line, path,
                     "unknown key; " + suggestion + "allowed " +
                         (map.path.empty() ? "top-level keys" : "keys under " + map.path) + ": " +
                         join(allowed));
            }
            if (auto [it, fresh] = seen.emplace(key, key_line); !fresh) {
                fail(key_line, path,
                     "appears twice (first on line " + std::to_string(it->second) + ")");
            }
            visit(key, Field{entry.second, path, line_of(entry.second, key_line)});
        }
    }

    std::string scalar(const Field& f, const std::string& expected) const {
        if (!f.value.IsScalar()) fail(f, "expected " + expected + ", got " + describe(f.value));
        return f.value.Scalar();
    }

    Endpoint endpoint(const Field& f) const {
        const std::string text =
            scalar(f, "host:port as text (quote IPv6 literals: \"[::1]:6432\")");
        try {
            return parse_endpoint(text);
        } catch (const std::invalid_argument& e) {
            fail(f, "\"" + text + "\": " + e.what());
        }
    }

    std::uint64_t count(const Field& f, std::uint64_t min, std::uint64_t max) const {
        const std::string text = scalar(f, "a whole number");
        std::uint64_t n = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (text.size() > 1 && text[0] == '-' &&
            std::isdigit(static_cast<unsigned char>(text[1]))) {
            fail(f, "must not be negative, got " + describe(f.value));
        }
        if (ec != std::errc() || end != text.data() + text.size() || n < min || n > max) {
            fail(f, "expected a whole number from " + std::to_string(min) + " to " +
                        std::to_string(max) + ", got " + describe(f.value));
        }
        return n;
    }

    bool boolean(const Field& f) const {
        const std::string text = detail::lower_ascii(scalar(f, "true or false"));
        if (text == "true" || text == "yes" || text == "on") return true;
        if (text == "false" || text == "no" || text == "off") return false;
        fail(f, "expected true or false, got " + describe(f.value));
    }

    // Bytes as PostgreSQL writes memory settings: 1024-based, case-sensitive units.
    std::size_t byte_size(const Field& f, std::uint64_t min, std::uint64_t max) const {
        static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
            {"", 1}, {"B", 1}, {"kB", 1ull << 10}, {"MB", 1ull << 20}, {"GB", 1ull << 30}};
        const std::string text = scalar(f, "a size such as 64MB");
        std::uint64_t n = 0;
        std::string_view unit;
        if (!split_quantity(text, n, unit)) {
            fail(f,
                 "expected a size: a whole number of bytes or one with a unit B, kB, MB, GB "
                 "(e.g. 64MB), got " +
                     describe(f.value));
        }
        for (auto [name, factor] : kUnits) {
            if (unit != name) continue;
            if (n > max / factor || n * factor < min || n * factor > max) {
                fail(f, "must be between 1kB and 1GB, got " + text);
            }
            return static_cast<std::size_t>(n * factor);
        }
        fail(f, "unknown unit \"" + std::string(unit) +
                    "\"; units are B, kB, MB, GB (case matters, as in PostgreSQL)");
    }

    // Seconds unless a unit says otherwise. The cap is PostgreSQL's for its own timeouts
    // (INT_MAX ms, about 24 days), which also keeps timer arithmetic far from overflow.
    std::chrono::milliseconds duration(const Field& f, bool zero_means_never) const {
        static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
            {"", 1000}, {"ms", 1}, {"s", 1000}, {"min", 60'000}, {"h", 3'600'000}};
        constexpr std::uint64_t kMax = std::numeric_limits<std::int32_t>::max();
        const std::string text = scalar(f, "a duration such as 60s");
        std::uint64_t n = 0;
        std::string_view unit;
        if (!split_quantity(text, n, unit)) {
            fail(f,
                 "expected a duration: whole seconds or a whole number with a unit ms, s, "
                 "min, h (e.g. 60s, or 1500ms for 1.5s), got " +
                     describe(f.value));
        }
        for (auto [name, factor] : kUnits) {
            if (unit != name) continue;
            if (n > kMax / factor) fail(f, "must be at most 2147483647ms (about 24 days)");
            if (n == 0 && !zero_means_never) fail(f, "must be more than 0");
            return std::chrono::milliseconds(n * factor);
        }
        fail(f, "unknown unit \"" + std::string(unit) + "\"; units are ms, s, min, h");
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
        walk_map(f, {"tables", "create_rev_tables", "allow"},
                 [&](std::string_view key, const Field& v) {
                     if (key == "create_rev_tables") audit.create_rev_tables = boolean(v);
                     if (key == "tables") tables(v, audit.tables);
                     if (key == "allow") allowances(v, audit);
                 });
    }

    // audit.allow: [truncate, copy_from, merge, unparsable, rev_table_changes]
    void allowances(const Field& f, Audit& audit) const {
        if (f.value.IsNull()) return;
        if (!f.value.IsSequence()) {
            fail(f, "expected a list such as [truncate, copy_from], got " + describe(f.value));
        }
        for (std::size_t i = 0; i < f.value.size(); ++i) {
            const Field item{f.value[i], f.path + "[" + std::to_string(i) + "]",
                             line_of(f.value[i], f.line)};
            std::string what = scalar(item,
                                      "one of truncate, copy_from, merge, unparsable, "
                                      "rev_table_changes");
            if (what == "truncate") {
                audit.allow_truncate = true;
            } else if (what == "copy_from") {
                audit.allow_copy_from = true;
            } else if (what == "merge") {
                audit.allow_merge = true;
            } else if (what == "unparsable") {
                audit.allow_unparsable = true;
            } else if (what == "rev_table_changes") {
                audit.allow_rev_table_changes = true;
            } else {
                fail(item, "unknown allowance \"" + what +
                               "\"; allowed are truncate, copy_from, merge, unparsable, "
                               "rev_table_changes");
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
                if (other.schema == out[i].schema && other.name + "_rev" == out[i].name) {
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

    // tls: {client: {...}, upstream: {...}}. The rules that join keys (a mode that needs a
    // certificate, a certificate without its key) are checked after the section is read, so
    // the message names the key that is missing wherever in the section the others are.
    void tls(const Field& f, Tls& tls) const {
        walk_map(f, {"client", "upstream"}, [&](std::string_view key, const Field& v) {
            if (key == "client") client_tls(v, tls.client);
            if (key == "upstream") upstream_tls(v, tls.upstream);
        });
    }

    // The optional fields of one tls subsection, as found in the file.
    struct TlsFields {
        std::optional<Field> sslmode, cert_file, key_file, ca_file;
    };

    TlsFields tls_fields(const Field& f, Keys allowed) const {
        TlsFields out;
        walk_map(f, allowed, [&](std::string_view key, const Field& v) {
            if (key == "sslmode") out.sslmode = v;
            if (key == "cert_file") out.cert_file = v;
            if (key == "key_file") out.key_file = v;
            if (key == "ca_file") out.ca_file = v;
        });
        return out;
    }

    void client_tls(const Field& f, ClientTls& out) const {
        static constexpr std::pair<std::string_view, ClientTlsMode> kModes[] = {
            {"disable", ClientTlsMode::Disable},
            {"allow", ClientTlsMode::Allow},
            {"prefer", ClientTlsMode::Prefer},
            {"require", ClientTlsMode::Require}};
        const TlsFields t = tls_fields(f, {"sslmode", "cert_file", "key_file", "ca_file"});
        certificate_pair(t, "tls.client");
        if (t.sslmode) {
            const std::string text = detail::lower_ascii(scalar(*t.sslmode, "an sslmode"));
            if (text == "verify-ca" || text == "verify-full") {
                fail(*t.sslmode, text +
                                     " is a mode of tls.upstream.sslmode; here one of disable, "
                                     "allow, prefer, require (to verify the certificates of "
                                     "clients, set tls.client.ca_file)");
            }
            out.sslmode = mode(*t.sslmode, text, kModes, "disable, allow, prefer, require");
        } else {
            out.sslmode = t.cert_file ? ClientTlsMode::Prefer : ClientTlsMode::Disable;
        }
        // Without a certificate only "disable" can be in effect, and only when written.
        if (out.sslmode != ClientTlsMode::Disable && !t.cert_file) {
            fail(*t.sslmode, std::string(sslmode_name(out.sslmode)) +
                                 " needs tls.client.cert_file and tls.client.key_file (pgrev's "
                                 "certificate for its clients and its private key)");
        }
        if (t.ca_file && !t.cert_file) {
            fail(*t.ca_file,
                 "client certificates are checked only over TLS: set tls.client.cert_file and "
                 "tls.client.key_file too");
        }
        out.cert_file = readable_file(t.cert_file);
        out.key_file = readable_file(t.key_file);
        out.ca_file = readable_file(t.ca_file);
    }

    void upstream_tls(const Field& f, UpstreamTls& out) const {
        static constexpr std::pair<std::string_view, UpstreamTlsMode> kModes[] = {
            {"disable", UpstreamTlsMode::Disable},   {"allow", UpstreamTlsMode::Allow},
            {"prefer", UpstreamTlsMode::Prefer},     {"require", UpstreamTlsMode::Require},
            {"verify-ca", UpstreamTlsMode::VerifyCa}, {"verify-full", UpstreamTlsMode::VerifyFull}};
        const TlsFields t = tls_fields(f, {"sslmode", "ca_file", "cert_file", "key_file"});
        certificate_pair(t, "tls.upstream");
        if (t.sslmode) {
            const std::string text = detail::lower_ascii(scalar(*t.sslmode, "an sslmode"));
            out.sslmode = mode(*t.sslmode, text, kModes,
                               "disable, allow, prefer, require, verify-ca, verify-full");
        }
        const bool verifies = out.sslmode == UpstreamTlsMode::VerifyCa ||
                              out.sslmode == UpstreamTlsMode::VerifyFull;
        if (verifies && !t.ca_file) {
            fail(*t.sslmode, std::string(sslmode_name(out.sslmode)) +
                                 " needs tls.upstream.ca_file (the CA certificates that signed "
                                 "the server's certificate, e.g. the cloud provider's bundle)");
        }
        out.ca_file = readable_file(t.ca_file);
        out.cert_file = readable_file(t.cert_file);
        out.key_file = readable_file(t.key_file);
    }

    // A certificate is no use without its private key, and the reverse.
    void certificate_pair(const TlsFields& t, const std::string& section) const {
        if (t.cert_file && !t.key_file) {
            fail(*t.cert_file, "needs " + section + ".key_file too (the certificate's private key)");
        }
        if (t.key_file && !t.cert_file) {
            fail(*t.key_file,
                 "needs " + section + ".cert_file too (the certificate that goes with this key)");
        }
    }

    template <typename Mode, std::size_t N>
    Mode mode(const Field& f, const std::string& text,
              const std::pair<std::string_view, Mode> (&modes)[N], const char* allowed) const {
        for (auto [name, value] : modes) {
            if (text == name) return value;
        }
        fail(f, "expected one of " + std::string(allowed) + ", got " + describe(f.value));
    }

    // The absolute name of the file `f` names ("" when absent), after checking that pgrev
    // can open it: a missing key file is a mistake to report at start, not at the first
    // client's handshake.
    std::string readable_file(const std::optional<Field>& f) const {
        if (!f) return "";
        const std::string name = scalar(*f, "a file name");
        if (name.empty()) fail(*f, "must not be empty (leave the key out instead)");
        const std::string path = detail::resolve_file_name(base_dir_, name);
        if (const std::string why = detail::unreadable_reason(path); !why.empty()) {
            fail(*f, "cannot read " + path + ": " + why);
        }
        return path;
    }

    void log(const Field& f, Config& config) const {
        static constexpr std::pair<std::string_view, LogLevel> kLevels[] = {
            {"trace", LogLevel::Trace},
            {"debug", LogLevel::Debug},
            {"info", LogLevel::Info},
            {"warn", LogLevel::Warn},
            {"error", LogLevel::Error}};
        walk_map(f, {"level"}, [&](std::string_view, const Field& v) {
            const std::string text = detail::lower_ascii(scalar(v, "a log level"));
            for (auto [name, level] : kLevels) {
                if (text == name) {
                    config.log_level = level;
                    return;
                }
            }
            fail(v, "expected one of trace, debug, info, warn, error, got " + describe(v.value));
        });
    }

    std::string source_;
    std::filesystem::path base_dir_;
};

}  // namespace

Config load_config_string(const std::string& yaml, const std::string& source_name) {
    std::error_code ec;
    std::filesystem::path cwd = std::filesystem::current_path(ec);
    if (ec) throw ConfigError(source_name + ": cannot find the current directory: " + ec.message());
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
