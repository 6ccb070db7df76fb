// The fast path: most statements never mention an audited table, and they are forwarded
// without being parsed. A case-insensitive search for each audited name (which also finds
// "<name>_rev") decides; "U&" is searched too, since a Unicode-escaped identifier can spell a
// name without its letters appearing, and so are the two ways a string can: an E'' string
// with a backslash escape, and a string continued on the next line ('reser'<newline>'vation'),
// since a string can be code (a DO block's body). False positives only cost a parse.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

class NameFilter {
  public:
    // `unicode_escapes`: also match "U&", E'' strings with a backslash and continued strings,
    // which can spell any of the names in escapes.
    explicit NameFilter(const std::vector<std::string>& names, bool unicode_escapes = true);

    // True when `sql` may contain one of the names.
    bool may_match(std::string_view sql) const;

    // Case-insensitive substring search; `lower_needle` must be lower case.
    static bool contains_ci(std::string_view text, std::string_view lower_needle);

    // True when `sql` may hold a string that spells a name without its letters: an E'' string
    // and a backslash, or a line that starts with a quote (continuing a string).
    static bool may_spell_in_strings(std::string_view sql);

  private:
    std::vector<std::string> needles_;  // lower case, deduplicated
    bool escapes_ = true;
};

}  // namespace pgrev::audit
