#include "audit/name_filter.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "config/text.h"

namespace pgrev::audit {

NameFilter::NameFilter(const std::vector<std::string>& names, bool unicode_escapes)
    : escapes_(unicode_escapes) {
    for (const auto& name : names) {
        std::string n = config::lower_ascii(name);
        if (!n.empty()) needles_.push_back(std::move(n));
    }
    if (unicode_escapes) needles_.push_back("u&");
    std::sort(needles_.begin(), needles_.end());
    needles_.erase(std::unique(needles_.begin(), needles_.end()), needles_.end());
}

bool NameFilter::contains_ci(std::string_view text, std::string_view needle) {
    if (needle.empty() || needle.size() > text.size()) return false;
    const char first_lower = needle[0];
    const char first_upper = config::upper_ascii(first_lower);
    const std::size_t last = text.size() - needle.size();
    // memchr-speed skipping to candidates for the first letter in either case. Each search
    // result is kept until passed, so the text is scanned once per case: linear time.
    auto next_of = [&](char c, std::size_t from) -> std::size_t {
        if (from > last) return std::string_view::npos;
        const void* p = std::memchr(text.data() + from, c, last - from + 1);
        return p == nullptr ? std::string_view::npos
                            : static_cast<std::size_t>(static_cast<const char*>(p) - text.data());
    };
    std::size_t next_lower = next_of(first_lower, 0);
    std::size_t next_upper =
        first_upper == first_lower ? std::string_view::npos : next_of(first_upper, 0);
    while (next_lower != std::string_view::npos || next_upper != std::string_view::npos) {
        std::size_t i = std::min(next_lower, next_upper);
        std::size_t k = 1;
        while (k < needle.size() && config::lower_ascii(text[i + k]) == needle[k])
            ++k;
        if (k == needle.size()) return true;
        if (i == next_lower) next_lower = next_of(first_lower, i + 1);
        if (i == next_upper) next_upper = next_of(first_upper, i + 1);
    }
    return false;
}

bool NameFilter::may_match(std::string_view sql) const {
    for (const auto& needle : needles_) {
        if (contains_ci(sql, needle)) return true;
    }
    return escapes_ && may_spell_in_strings(sql);
}

bool NameFilter::may_spell_in_strings(std::string_view sql) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f'; };
    if (sql.find('\\') != std::string_view::npos) {
        // E'..' or e'..' where a token starts (not the end of a word like "one'").
        for (std::size_t q = sql.find('\''); q != std::string_view::npos;
             q = sql.find('\'', q + 1)) {
            if (q == 0 || config::lower_ascii(sql[q - 1]) != 'e') continue;
            if (q == 1) return true;
            unsigned char before = static_cast<unsigned char>(sql[q - 2]);
            if (!(std::isalnum(before) || before == '_' || before == '$' || before >= 0x80)) {
                return true;
            }
        }
    }
    // A string continues on the next line after white space, or (for the server, not for
    // libpg_query) after a `--` comment: a quote ends the line, or the line holds "--", and the
    // next one starts with a quote.
    std::size_t line_begin = 0;
    for (std::size_t nl = sql.find('\n'); nl != std::string_view::npos;
         nl = sql.find('\n', nl + 1)) {
        std::size_t i = nl + 1;
        while (i < sql.size() && (is_space(sql[i]) || sql[i] == '\n'))
            ++i;
        if (i < sql.size() && sql[i] == '\'') {
            std::size_t end = nl;
            while (end > line_begin && is_space(sql[end - 1]))
                --end;
            if (end > line_begin && sql[end - 1] == '\'') return true;
            if (sql.substr(line_begin, nl - line_begin).find("--") != std::string_view::npos) {
                return true;
            }
        }
        line_begin = nl + 1;
    }
    return false;
}

}  // namespace pgrev::audit
