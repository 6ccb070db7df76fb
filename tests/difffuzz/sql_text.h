// SQL text from tokens: the same statement rendered plain (single spaces) and decorated
// (comments of every kind, odd whitespace in the gaps), and names and values in their many
// spellings. What PostgreSQL reads must not change with the spelling, so neither may pgrev.
#pragma once

#include <string>
#include <vector>

#include "classes.h"
#include "rng.h"
#include "schema.h"
#include "step.h"

namespace pgrev::difffuzz {

class Sql {
  public:
    Sql() = default;
    Sql(std::initializer_list<std::string> tokens) : tokens_(tokens) {}
    Sql& operator<<(const std::string& token);
    Sql& operator<<(const Sql& other);
    bool empty() const { return tokens_.empty(); }
    std::vector<std::string>& tokens() { return tokens_; }

    std::string plain() const;
    // Random gaps between tokens (and before the first); `end_of_text`: the text ends after
    // this statement, so a -- comment may run to its end.
    Rendered decorated(Rng& rng, const Classes& on, bool end_of_text) const;

  private:
    std::vector<std::string> tokens_;
};

// What separates two tokens.
std::string random_gap(Rng& rng, const Classes& on);

// An identifier in one of its spellings that PostgreSQL reads as `name`.
std::string ident(const std::string& name, Rng& rng, const Classes& on);
// The plain spelling: bare when lower-case and not reserved, else double-quoted.
std::string ident_plain(const std::string& name);
// The table, maybe schema-qualified, in one of its spellings.
std::string table_ref(const Table& table, Rng& rng, const Classes& on);

// A value for a column: its SQL literal and, for the extended protocol, its text form.
struct Value {
    std::string sql;
    Param param;
    bool parameterizable = true;  // false for DEFAULT and expressions
};
Value random_value(ColKind kind, bool key, Rng& rng, const Classes& on);
// A literal for SQL text (EXECUTE arguments): 'text' with quotes doubled, or NULL.
std::string literal(const Param& value);

}  // namespace pgrev::difffuzz
