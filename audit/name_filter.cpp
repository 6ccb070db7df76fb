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

namespace {

// How often a character turns up in SQL, low for rare ones: the search skips to the needle's
// rarest character, so a text full of its common letters (an ORM's long column lists) costs
// few candidate checks.
int commonness(char c) {
    static constexpr std::string_view kByFrequency = "qjzxkvbywfgphmdculsnoiraet_ ";
    std::size_t at = kByFrequency.find(c);
    return at == std::string_view::npos ? 0 : static_cast<int>(at) + 1;
}

}  // namespace

bool NameFilter::contains_ci(std::string_view text, std::string_view needle) {
    if (needle.empty() || needle.size() > text.size()) return false;
    std::size_t anchor = 0;
    for (std::size_t k = 1; k < needle.size(); ++k) {
        if (commonness(needle[k]) < commonness(needle[anchor])) anchor = k;
    }
    const char lower = needle[anchor];
    const char upper = config::upper_ascii(lower);
    // Where the anchor can be: the needle must fit around it.
    const std::size_t first = anchor;
    const std::size_t last = text.size() - needle.size() + anchor;
    // memchr-speed skipping to the anchor character in either case. Each search result is
    // kept until passed, so the text is scanned once per case: linear time.
    auto next_of = [&](char c, std::size_t from) -> std::size_t {
        if (from > last) return std::string_view::npos;
        const void* p = std::memchr(text.data() + from, c, last - from + 1);
        return p == nullptr ? std::string_view::npos
                            : static_cast<std::size_t>(static_cast<const char*>(p) - text.data());
    };
    std::size_t next_lower = next_of(lower, first);
    std::size_t next_upper = upper == lower ? std::string_view::npos : next_of(upper, first);
    while (next_lower != std::string_view::npos || next_upper != std::string_view::npos) {
        std::size_t at = std::min(next_lower, next_upper);
        std::size_t begin = at - anchor;
        std::size_t k = 0;
        while (k < needle.size() && config::lower_ascii(text[begin + k]) == needle[k])
            ++k;
        if (k == needle.size()) return true;
        if (at == next_lower) next_lower = next_of(lower, at + 1);
        if (at == next_upper) next_upper = next_of(upper, at + 1);
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
