// One case of the fuzzer: a sequence of steps, each a unit of client traffic that is run on
// the direct connection and on the connection through pgrev, and whose answers are compared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgrev::difffuzz {

using Param = std::optional<std::string>;  // text format; nullopt is NULL

enum class StepKind {
    Query,         // one simple Query message holding `parts` joined by ';'
    Params,        // PQsendQueryParams (unnamed statement)
    Prepare,       // PQsendPrepare of `name`
    ExecPrepared,  // PQsendQueryPrepared of `name`
    Describe,      // PQsendDescribePrepared of `name`
    Sync,          // a PQpipelineSync inside a pipeline
    Pipeline,      // `items` sent in pipeline mode, then a Sync, then every result read
};

// A statement as tokens and the gaps around them (gaps.size() == tokens.size() + 1), so the
// minimizer can make its comments and odd whitespace plain one gap at a time.
struct Rendered {
    std::vector<std::string> tokens;
    std::vector<std::string> gaps;
    std::string text() const;
    std::string plain() const;
    static Rendered of(const std::string& sql) { return {{sql}, {"", ""}}; }
};

struct Step {
    StepKind kind = StepKind::Query;
    // Query: the statements, as sent (comments, odd spacing); Params, Prepare: `sql`.
    // Both are made from `pieces` (one per statement), which the minimizer simplifies.
    std::vector<std::string> parts;
    std::string sql;
    std::vector<Rendered> pieces;
    std::string name;
    std::vector<Param> params;
    std::vector<Step> items;  // Pipeline
    bool ddl = false;         // changes the schema: the next case needs fresh databases

    void set_pieces(std::vector<Rendered> rendered);  // and parts or sql from them
    std::string query_text() const;                   // parts joined by ';'
    // Human-readable, with control characters escaped, as a C++-like literal.
    std::string describe() const;
};

struct Sequence {
    std::uint64_t seed = 0;
    std::vector<Step> steps;
    bool has_ddl() const;
    std::string describe() const;
};

// Control characters shown as \r, \n, \t, \f, \xNN, so a failure report shows the bytes.
std::string escape_text(const std::string& text);

}  // namespace pgrev::difffuzz
