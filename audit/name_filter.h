// The fast path: most statements never mention an audited table, and they are forwarded
// without being parsed. A case-insensitive search for each audited name (which also finds
// "<name>_rev") decides; "U&" is searched too, since a Unicode-escaped identifier can spell a
// name without its letters appearing. False positives only cost a parse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

class NameFilter {
  public:
    // `unicode_escapes`: also match "U&", which can spell any of the names in escapes.
    explicit NameFilter(const std::vector<std::string>& names, bool unicode_escapes = true);

    // True when `sql` may contain one of the names.
    bool may_match(std::string_view sql) const;

    // Case-insensitive substring search; `lower_needle` must be lower case.
    static bool contains_ci(std::string_view text, std::string_view lower_needle);

  private:
    std::vector<std::string> needles_;  // lower case, deduplicated
};

}  // namespace pgrev::audit
