#include "audit/name_filter.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace pgrev::audit {

namespace {
char lower(char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}
}  // namespace

NameFilter::NameFilter(const std::vector<std::string>& table_names) {
    for (const auto& name : table_names) {
        std::string n;
        for (char c : name)
            n.push_back(lower(c));
        if (!n.empty()) needles_.push_back(std::move(n));
    }
    needles_.push_back("u&");
    std::sort(needles_.begin(), needles_.end());
    needles_.erase(std::unique(needles_.begin(), needles_.end()), needles_.end());
}

bool NameFilter::contains_word_ci(std::string_view text, std::string_view needle) {
    if (needle.empty() || needle.size() > text.size()) return false;
    const char first_lower = needle[0];
    const char first_upper =
        static_cast<char>(std::toupper(static_cast<unsigned char>(first_lower)));
    const std::size_t last = text.size() - needle.size();
    for (std::size_t i = 0; i <= last; ++i) {
        // memchr-speed skipping to candidates for the first letter in either case.
        const char* p = text.data() + i;
        std::size_t n = last - i + 1;
        const void* a = std::memchr(p, first_lower, n);
        const void* b = first_upper != first_lower ? std::memchr(p, first_upper, n) : nullptr;
        const char* hit = static_cast<const char*>(a);
        if (b != nullptr && (hit == nullptr || static_cast<const char*>(b) < hit)) {
            hit = static_cast<const char*>(b);
        }
        if (hit == nullptr) return false;
        i = static_cast<std::size_t>(hit - text.data());
        std::size_t k = 1;
        while (k < needle.size() && lower(text[i + k]) == needle[k])
            ++k;
        if (k == needle.size()) return true;
    }
    return false;
}

bool NameFilter::may_name_audited_table(std::string_view sql) const {
    for (const auto& needle : needles_) {
        if (contains_word_ci(sql, needle)) return true;
    }
    return false;
}

}  // namespace pgrev::audit
