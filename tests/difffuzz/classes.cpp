#include "classes.h"

#include <stdexcept>

namespace pgrev::difffuzz {

const std::vector<InputClass>& all_classes() {
    static const std::vector<InputClass> classes = {
        {"comments", "/* */ and -- comments (ended by \\n) in the gaps between tokens"},
        {"cr-comments", "-- comments ended by a bare carriage return"},
        {"eot-comments", "-- comments ended by the end of the text"},
        {"nested-comments", "nested /* /* */ */ comments"},
        {"odd-whitespace", "tabs, form feeds, carriage returns as whitespace"},
        {"quoting", "E'', U&'', dollar quotes, doubled quotes in values"},
        {"names", "quoted, upper-case and schema-qualified table and column names"},
        {"unicode-names", "U&\"...\" identifiers"},
        {"uescape", "U&\"...\" identifiers with UESCAPE"},
        {"returning", "RETURNING lists: *, columns, expressions, aliases"},
        {"returning-agg", "aggregates, set-returning and window functions in RETURNING"},
        {"system-columns", "tableoid, xmax in RETURNING"},
        {"whole-row", "whole-row references (RETURNING t, t.*) "},
        {"errors", "constraint violations, division by zero in RETURNING, bad values"},
        {"syntax-errors", "statements with a token dropped or added"},
        {"transactions", "BEGIN / COMMIT / ROLLBACK steps"},
        {"savepoints", "SAVEPOINT / ROLLBACK TO / RELEASE"},
        {"multi-statement", "several statements in one simple Query"},
        {"extended", "extended protocol with parameters, unnamed and named statements"},
        {"pipeline", "libpq pipeline mode"},
        {"sql-prepare", "SQL PREPARE / EXECUTE / DEALLOCATE"},
        {"name-reuse", "re-Parse, re-PREPARE and DEALLOCATE of names that fail or are aborted"},
        {"upsert", "INSERT ... ON CONFLICT DO NOTHING / DO UPDATE"},
        {"insert-select", "INSERT ... SELECT"},
        {"update-from", "UPDATE ... FROM"},
        {"delete-using", "DELETE ... USING"},
        {"cte", "user WITH queries around and inside DML"},
        {"domain-delete", "DELETE from the table with a domain column (key-only revision)"},
        {"ddl-add", "ALTER TABLE ... ADD COLUMN between statements"},
        {"ddl-rename", "ALTER TABLE ... RENAME COLUMN (and swaps of two columns)"},
        {"ddl-type", "ALTER TABLE ... ALTER COLUMN ... TYPE"},
        {"settings", "SET / RESET of standard_conforming_strings and client_encoding"},
        {"hidden-settings",
         "settings changed where the text does not say so (DO, pg_settings, "
         "COMMIT of SET LOCAL)"},
        {"search-path", "SET search_path between statements"},
        {"ancestors", "ALTER TABLE ... INHERIT, then writes through the parent"},
        {"schema-rename",
         "ALTER SCHEMA ... RENAME of an audited table's schema, write, rename back"},
        {"rev-tampering", "a BEFORE INSERT trigger on a _rev table that returns NULL"},
    };
    return classes;
}

Classes::Classes() = default;

void Classes::disable(const std::string& name) {
    for (const InputClass& c : all_classes()) {
        if (name == c.name) {
            disabled_.insert(name);
            return;
        }
    }
    throw std::invalid_argument("unknown input class: " + name + " (see --list-classes)");
}

const std::vector<std::pair<std::string, std::string>>& ci_exclusions() {
    // Classes whose defects are known and not fixed yet, each with why; empty when every
    // class is expected to pass.
    static const std::vector<std::pair<std::string, std::string>> exclusions = {};
    return exclusions;
}

}  // namespace pgrev::difffuzz
