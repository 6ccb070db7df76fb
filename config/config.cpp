// The plain parts of config/: endpoints and table names. Nothing here knows YAML, so the
// same rules serve the loader and anyone who takes a name from a command line.
#include "config/config.h"

#include <charconv>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/text.h"

namespace pgrev::config {
namespace {

// PostgreSQL's NAMEDATALEN - 1: a longer identifier is silently truncated by the server,
// so the catalog would never contain the name as written.
constexpr std::size_t kMaxIdentifierBytes = 63;

bool is_ascii_alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_ascii_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_high_bit(char c) {
    return static_cast<unsigned char>(c) >= 0x80;
}

// The characters PostgreSQL's scanner accepts in an unquoted identifier (non-ASCII bytes
// are identifier letters there too).
bool is_plain_identifier(std::string_view s) {
    if (s.empty()) return false;
    if (!is_ascii_alpha(s[0]) && s[0] != '_' && !is_high_bit(s[0])) return false;
    for (char c : s) {
        if (!is_ascii_alpha(c) && !is_ascii_digit(c) && c != '_' && c != '$' && !is_high_bit(c)) {
            return false;
        }
    }
    return true;
}

// quote_ident() without the keyword list: after "schema." any keyword is a valid name, and
// a schema named like a reserved word is rare enough to be written quoted by its owner.
std::string quote_if_needed(const std::string& ident) {
    if (is_plain_identifier(ident) && lower_ascii(ident) == ident) return ident;
    std::string out = "\"";
    for (char c : ident) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + '"';
}

// Reads one identifier starting at `pos`, leaving `pos` on the '.' after it or at the end.
std::string read_identifier(std::string_view text, std::size_t& pos) {
    std::string ident;
    if (pos < text.size() && text[pos] == '"') {
        ++pos;
        for (;;) {
            if (pos >= text.size()) throw std::invalid_argument("a double quote is not closed");
            if (text[pos] == '"') {
                if (pos + 1 < text.size() && text[pos + 1] == '"') {
                    ident += '"';  // "" inside quotes stands for one quote, as in SQL
                    pos += 2;
                    continue;
                }
                ++pos;
                break;
            }
            ident += text[pos++];
        }
        if (ident.empty()) throw std::invalid_argument("\"\" is an empty name");
        if (pos < text.size() && text[pos] != '.') {
            throw std::invalid_argument("unexpected text after a closing double quote");
        }
    } else {
        std::size_t end = text.find('.', pos);
        if (end == std::string_view::npos) end = text.size();
        std::string_view raw = text.substr(pos, end - pos);
        pos = end;
        if (raw.empty()) throw std::invalid_argument("empty name");
        if (!is_plain_identifier(raw)) {
            throw std::invalid_argument(
                "\"" + std::string(raw) +
                "\" is not a plain identifier (letters, digits, _ and $, not starting with a "
                "digit); write other names in double quotes inside the YAML string, e.g. "
                "'\"My Table\"'");
        }
        ident = lower_ascii(raw);
    }
    if (ident.size() > kMaxIdentifierBytes) {
        throw std::invalid_argument("\"" + ident +
                                    "\" is longer than PostgreSQL's limit of 63 bytes");
    }
    return ident;
}

}  // namespace

std::string Endpoint::to_string() const {
    std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    return h + ":" + std::to_string(port);
}

std::string AuditedTable::qualified_name() const {
    return quote_if_needed(schema) + "." + quote_if_needed(name);
}

bool Audit::is_trusted(std::string_view schema, std::string_view name) const {
    for (const RoutineName& r : trusted_routines) {
        if (r.schema == schema && r.name == name) return true;
    }
    return false;
}

AuditedTable parse_table_name(const std::string& text) {
    std::vector<std::string> parts;
    std::size_t pos = 0;
    for (;;) {
        parts.push_back(read_identifier(text, pos));
        if (pos >= text.size()) break;
        ++pos;  // the separating '.'
        if (parts.size() == 2) {
            throw std::invalid_argument("more than one dot; write \"table\" or \"schema.table\"");
        }
    }
    AuditedTable table;
    if (parts.size() == 2) table.schema = parts[0];
    table.name = parts.back();
    // PostgreSQL would cut a longer "<name>_rev" to 63 bytes: another table's name, or its own.
    if (table.name.size() > kMaxIdentifierBytes - kRevSuffix.size()) {
        throw std::invalid_argument("\"" + table.name +
                                    "\" is longer than 59 bytes, so its "
                                    "revision table's name \"" +
                                    rev_name(table.name) +
                                    "\" would not fit PostgreSQL's limit of 63");
    }
    return table;
}

Endpoint parse_endpoint(const std::string& text) {
    static const std::string kExample = "expected host:port, e.g. 127.0.0.1:5432 or [::1]:5432";
    if (text.empty()) throw std::invalid_argument("empty; " + kExample);
    Endpoint ep;
    std::string_view port_text;
    if (text[0] == '[') {
        std::size_t close = text.find(']');
        if (close == std::string::npos) throw std::invalid_argument("'[' without ']'; " + kExample);
        ep.host = text.substr(1, close - 1);
        if (close + 1 >= text.size() || text[close + 1] != ':') {
            throw std::invalid_argument("missing port after \"]\"; " + kExample);
        }
        port_text = std::string_view(text).substr(close + 2);
    } else {
        std::size_t colon = text.rfind(':');
        if (colon == std::string::npos) throw std::invalid_argument("missing port; " + kExample);
        ep.host = text.substr(0, colon);
        if (ep.host.find(':') != std::string::npos) {
            throw std::invalid_argument(
                "an IPv6 address must be written in brackets, e.g. [::1]:5432");
        }
        port_text = std::string_view(text).substr(colon + 1);
    }
    if (ep.host.empty()) throw std::invalid_argument("missing host; " + kExample);
    for (char c : ep.host) {
        if (c == ' ' || c == '\t' || c == '/' || c == '[' || c == ']') {
            throw std::invalid_argument("\"" + ep.host + "\" is not a host name or address");
        }
    }
    if (port_text.empty()) throw std::invalid_argument("missing port; " + kExample);
    unsigned long port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
        throw std::invalid_argument("port \"" + std::string(port_text) +
                                    "\" is not a number from 1 to 65535");
    }
    ep.port = static_cast<std::uint16_t>(port);
    return ep;
}

}  // namespace pgrev::config

namespace pgrev::config {

const char* sslmode_name(ClientTlsMode mode) {
    switch (mode) {
        case ClientTlsMode::Disable:
            return "disable";
        case ClientTlsMode::Allow:
            return "allow";
        case ClientTlsMode::Prefer:
            return "prefer";
        case ClientTlsMode::Require:
            return "require";
    }
    return "disable";
}

const char* sslmode_name(UpstreamTlsMode mode) {
    switch (mode) {
        case UpstreamTlsMode::Disable:
            return "disable";
        case UpstreamTlsMode::Allow:
            return "allow";
        case UpstreamTlsMode::Prefer:
            return "prefer";
        case UpstreamTlsMode::Require:
            return "require";
        case UpstreamTlsMode::VerifyCa:
            return "verify-ca";
        case UpstreamTlsMode::VerifyFull:
            return "verify-full";
    }
    return "prefer";
}

}  // namespace pgrev::config
