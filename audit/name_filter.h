// The fast path: most statements never mention an audited table, and they are forwarded
// without being parsed. A case-insensitive search for each audited name (which also finds
// "<name>_rev") decides; "U&" is searched too, since a Unicode-escaped identifier can spell a
// name without its letters appearing, and so are the two ways a string can: an E'' string
// with a backslash escape, and a string continued on the next line ('reser'<newline>'vation'),
// since a string can be code (a DO block's body). False positives only cost a parse.
#pragma once

#include <cstddef>
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
    // The same, skipping through `text` to the needle's character at `anchor` (best the
    // rarest in SQL: rarest_position).
    static bool contains_ci(std::string_view text, std::string_view lower_needle,
                            std::size_t anchor);
    static std::size_t rarest_position(std::string_view needle);

    // True when `sql` may hold a string that spells a name without its letters: an E'' string
    // and a backslash, or a line that starts with a quote (continuing a string).
    static bool may_spell_in_strings(std::string_view sql);

  private:
    // The byte with its case bit set: equal for the two cases of a letter (and for a few
    // pairs of other bytes, which only makes more candidates).
    static char fold(char c) { return static_cast<char>(c | 0x20); }
    bool contains_any(std::string_view text) const;
    // Needle i, its anchor at text[at].
    bool needle_at(std::string_view text, std::size_t i, std::size_t at) const;

    // The needles whose anchor character folds to `folded`.
    struct Probe {
        char folded = 0;
        std::vector<std::size_t> needles;
    };
    std::vector<std::string> needles_;  // lower case, deduplicated
    std::vector<std::size_t> anchors_;  // of each needle, its rarest_position
    std::vector<Probe> probes_;
    bool escapes_ = true;
};

}  // namespace pgrev::audit
