// The statements of the generator: INSERT/UPDATE/DELETE/SELECT shapes on one audited table,
// with RETURNING lists, conflicts, FROM/USING, CTEs, and parameters for the extended protocol.
#pragma once

#include <vector>

#include "classes.h"
#include "rng.h"
#include "schema.h"
#include "sql_text.h"

namespace pgrev::difffuzz {

struct Gen {
    Rng& rng;
    const Classes& on;
    std::vector<Table>& tables;  // as the case's own DDL left them
    // When set, values may become $n parameters collected here (extended protocol).
    std::vector<Param>* params = nullptr;
};

// A statement that reads or writes an audited table, as tokens.
Sql random_statement(Gen& g);
// A statement whose RETURNING-free shape is valid for SQL PREPARE (INSERT/UPDATE/DELETE).
Sql random_dml(Gen& g);
// An INSERT, UPDATE or DELETE of `table`.
Sql random_dml_on(Gen& g, const Table& table);
// `sql` with one token dropped or a stray one added.
Sql with_syntax_error(Sql sql, Rng& rng);

}  // namespace pgrev::difffuzz
