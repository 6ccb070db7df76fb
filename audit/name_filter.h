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
    explicit NameFilter(const std::vector<std::string>& table_names);

    bool may_name_audited_table(std::string_view sql) const;

    // For words a session adds to the filter (EXECUTE of a rewritten SQL-level PREPARE).
    static bool contains_word_ci(std::string_view text, std::string_view lower_word);

  private:
    std::vector<std::string> needles_;  // lower case, deduplicated
};

}  // namespace pgrev::audit
