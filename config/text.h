// Small text helpers. ASCII case folding is pgrev's one (config/ and audit/ use it); the rest
// is internal to config/.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::config {

// Folds ASCII letters only, as PostgreSQL's downcase_identifier does for a UTF-8 database and
// as its scanner folds keywords: a byte of a multibyte character is never changed, whatever
// the process's locale.
constexpr char lower_ascii(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr char upper_ascii(char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = lower_ascii(c);
    return out;
}

namespace detail {

// Levenshtein distance, for "did you mean ...?" on a misspelt key.
inline std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace detail
}  // namespace pgrev::config
