#include "config/field_reader.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

#include "config/config.h"
#include "config/files.h"

namespace pgrev::config::detail {
namespace {

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

}  // namespace

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

void FieldReader::fail(int line, const std::string& path, const std::string& what) const {
    std::string message = source_ + ":" + std::to_string(line) + ": ";
    if (!path.empty()) message += path + ": ";
    throw ConfigError(one_line(message + what));
}
void FieldReader::fail(const Field& f, const std::string& what) const {
    fail(f.line, f.path, what);
}

int FieldReader::line_of(const YAML::Node& node, int fallback) {
    if (node.IsNull() || node.Mark().is_null()) return fallback;
    return node.Mark().line + 1;
}

std::string FieldReader::scalar(const Field& f, const std::string& expected) const {
    if (!f.value.IsScalar()) fail(f, "expected " + expected + ", got " + describe(f.value));
    return f.value.Scalar();
}

std::uint64_t FieldReader::count(const Field& f, std::uint64_t min, std::uint64_t max) const {
    const std::string text = scalar(f, "a whole number");
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.size() > 1 && text[0] == '-' && std::isdigit(static_cast<unsigned char>(text[1]))) {
        fail(f, "must not be negative, got " + describe(f.value));
    }
    if (ec != std::errc() || end != text.data() + text.size() || n < min || n > max) {
        fail(f, "expected a whole number from " + std::to_string(min) + " to " +
                    std::to_string(max) + ", got " + describe(f.value));
    }
    return n;
}

bool FieldReader::boolean(const Field& f) const {
    const std::string text = lower_ascii(scalar(f, "true or false"));
    if (text == "true" || text == "yes" || text == "on") return true;
    if (text == "false" || text == "no" || text == "off") return false;
    fail(f, "expected true or false, got " + describe(f.value));
}

// Bytes as PostgreSQL writes memory settings: 1024-based, case-sensitive units.
std::size_t FieldReader::byte_size(const Field& f, std::uint64_t min, std::uint64_t max) const {
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
std::chrono::milliseconds FieldReader::duration(const Field& f, bool zero_means_never) const {
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

std::string FieldReader::readable_file(const Field& f) const {
    const std::string name = scalar(f, "a file name");
    if (name.empty()) fail(f, "must not be empty (leave the key out instead)");
    std::string path = resolve_file_name(base_dir_, name);
    if (const std::string why = unreadable_reason(path); !why.empty()) {
        fail(f, "cannot read " + path + ": " + why);
    }
    return path;
}

}  // namespace pgrev::config::detail
