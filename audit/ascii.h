// ASCII case folding, as PostgreSQL folds keywords and unquoted identifiers: A-Z only, so a
// byte of a multibyte character is never changed, whatever the process's locale (pgrev runs in
// the C locale, where std::tolower does the same).
#pragma once

#include <string>
#include <string_view>

namespace pgrev::audit {

constexpr char ascii_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr char ascii_upper(char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out)
        c = ascii_lower(c);
    return out;
}

}  // namespace pgrev::audit
