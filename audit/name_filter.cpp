#include "audit/name_filter.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    for (std::size_t i = 0; i < needles_.size(); ++i) {
        anchors_.push_back(rarest_position(needles_[i]));
        char probe = fold(needles_[i][anchors_[i]]);
        auto known = std::find_if(probes_.begin(), probes_.end(),
                                  [&](const Probe& p) { return p.folded == probe; });
        if (known == probes_.end()) known = probes_.insert(probes_.end(), Probe{probe, {}});
        known->needles.push_back(i);
    }
}

namespace {

// How often a character turns up in SQL, low for rare ones: the search skips to the needle's
// rarest character, so a text full of its common letters (an ORM's long column lists) costs
// few candidate checks. A table, since every statement's search looks at each needle's
// characters.
struct Commonness {
    std::array<unsigned char, 256> of{};
    constexpr Commonness() {
        constexpr std::string_view kByFrequency = "qjzxkvbywfgphmdculsnoiraet_ ";
        for (std::size_t i = 0; i < kByFrequency.size(); ++i)
            of[static_cast<unsigned char>(kByFrequency[i])] = static_cast<unsigned char>(i + 1);
    }
};
constexpr Commonness kCommonness;

}  // namespace

std::size_t NameFilter::rarest_position(std::string_view needle) {
    std::size_t anchor = 0;
    auto commonness = [](char c) { return kCommonness.of[static_cast<unsigned char>(c)]; };
    for (std::size_t k = 1; k < needle.size(); ++k) {
        if (commonness(needle[k]) < commonness(needle[anchor])) anchor = k;
    }
    return anchor;
}

bool NameFilter::contains_ci(std::string_view text, std::string_view needle) {
    return contains_ci(text, needle, rarest_position(needle));
}

bool NameFilter::contains_ci(std::string_view text, std::string_view needle, std::size_t anchor) {
    if (needle.empty() || needle.size() > text.size()) return false;
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
    return contains_any(sql) || (escapes_ && may_spell_in_strings(sql));
}

bool NameFilter::needle_at(std::string_view text, std::size_t i, std::size_t at) const {
    const std::string& needle = needles_[i];
    if (at < anchors_[i] || at - anchors_[i] + needle.size() > text.size()) return false;
    const char* begin = text.data() + (at - anchors_[i]);
    for (std::size_t k = 0; k < needle.size(); ++k) {
        if (config::lower_ascii(begin[k]) != needle[k]) return false;
    }
    return true;
}

#if defined(__SSE2__)
bool NameFilter::contains_any(std::string_view text) const {
    // One pass for every needle, 16 bytes at a time: the bytes that are (in either case) the
    // anchor character of some needle are candidates, each checked against the needles of
    // that anchor. Most statements are short, and the per-needle memchr calls cost more in
    // setting up than in scanning.
    if (probes_.empty()) return false;
    const __m128i case_bit = _mm_set1_epi8(0x20);
    for (std::size_t at = 0; at < text.size(); at += 16) {
        std::size_t length = std::min<std::size_t>(16, text.size() - at);
        __m128i chunk;
        if (length == 16) {
            chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + at));
        } else {
            alignas(16) char tail[16] = {};
            std::memcpy(tail, text.data() + at, length);
            chunk = _mm_load_si128(reinterpret_cast<const __m128i*>(tail));
        }
        const __m128i folded = _mm_or_si128(chunk, case_bit);
        __m128i hits = _mm_setzero_si128();
        for (const Probe& p : probes_)
            hits = _mm_or_si128(hits, _mm_cmpeq_epi8(folded, _mm_set1_epi8(p.folded)));
        auto bits = static_cast<unsigned>(_mm_movemask_epi8(hits));
        if (length < 16) bits &= (1U << length) - 1;
        while (bits != 0) {
            std::size_t pos = at + static_cast<std::size_t>(__builtin_ctz(bits));
            bits &= bits - 1;
            const char c = fold(text[pos]);
            for (const Probe& p : probes_) {
                if (p.folded != c) continue;
                for (std::size_t i : p.needles) {
                    if (needle_at(text, i, pos)) return true;
                }
            }
        }
    }
    return false;
}
#else
bool NameFilter::contains_any(std::string_view text) const {
    for (std::size_t i = 0; i < needles_.size(); ++i) {
        if (contains_ci(text, needles_[i], anchors_[i])) return true;
    }
    return false;
}
#endif

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
