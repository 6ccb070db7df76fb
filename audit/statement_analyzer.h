// Finds, in one parsed top-level statement, every place that writes to an audited table and
// the text ranges the rewriter splices: the DML verb, its RETURNING list, the user's WITH list,
// a CTE's parentheses. Also decides refusals (docs/ARCHITECTURE.md, "Refusals") and session
// bookkeeping. Which function analyses which statement kind: statement_kinds.cpp.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/catalog.h"
#include "audit/parse_tree.h"
#include "audit/rewrite_plan.h"
#include "audit/sql_lexer.h"
#include "config/config.h"

namespace pgrev::audit {

// One INSERT/UPDATE/DELETE of an audited table.
struct DmlSite {
    TagVerb verb = TagVerb::None;
    const AuditedTableInfo* table = nullptr;
    std::string ref;           // how RETURNING names the target: its alias, else its name
    bool unqualified = false;  // the target was named without a schema
    std::size_t begin = 0;     // the verb
    std::size_t body_end = 0;  // end of the statement without its RETURNING clause
    std::size_t end = 0;       // end of its last token
    bool has_returning = false;
    std::size_t returning_begin = 0;  // first RETURNING item
    // UPDATE ... FROM / DELETE ... USING items, for RETURNING that may name them: each is
    // returned as one whole-row value and unpacked again under its own name.
    struct FromItem {
        std::string ref;            // the name RETURNING uses for it
        std::string row_value;      // the whole-row expression returned, e.g. ROW("o".*)::"other"
        std::string lateral_as;     // the alias it is unpacked as, e.g. "o"("a", "b")
        std::string row_type = {};  // its composite type when it is a table, else empty
    };
    std::vector<FromItem> from_items;
    std::vector<std::size_t> bare_stars;  // offsets of `*` items in RETURNING
    // Other replacements inside RETURNING's text (whole-row references cast to their type).
    struct TextEdit {
        std::size_t begin;
        std::size_t end;
        std::string text;
    };
    std::vector<TextEdit> returning_edits;
    // System columns RETURNING uses (xmax, tableoid, ...): the DML returns them next to the
    // row, as ordinary columns of the same names.
    std::vector<std::string> system_columns;
    // The user's RETURNING expressions (aliases and bare `*` items left out) when the list
    // calls a function: the DML's own RETURNING repeats them in a branch that is never
    // evaluated, so that the server analyses them where the user wrote them and refuses
    // aggregates, window and set-returning functions with its own error (see SiteWriter).
    struct Range {
        std::size_t begin;
        std::size_t end;
    };
    std::vector<Range> returning_checks;
    // RETURNING comes back through whole-row values: the DML has FROM/USING items, or the
    // check column above would show in `*`, `t.*` or the whole row `t`.
    bool whole_row = false;
    // RETURNING's columns are the ones it names: no `*`, `t.*` or whole-row `t` (anywhere in
    // the list, subqueries included) and no FROM/USING items. Only then can the result type of
    // a prepared form of the statement not change unless a named column's type does.
    bool returning_names_columns = false;
    // Set for a DML inside the user's CTE: `name [(cols)] AS [NOT MATERIALIZED] ( dml )`.
    bool in_cte = false;
    std::string cte_name;          // as the parser folded it
    std::size_t cte_begin = 0;     // the CTE's name
    std::size_t cte_as_end = 0;    // just after its AS
    std::size_t cte_open_end = 0;  // just after its opening parenthesis
    std::size_t cte_end = 0;       // just after its closing parenthesis
};

struct StatementAnalysis {
    StatementPlan plan;
    std::optional<DmlSite> main;   // the statement itself writes an audited table
    std::vector<DmlSite> in_ctes;  // DMLs of audited tables inside its WITH list
    // The user's own WITH list of the main DML, to keep in front of pgrev's.
    bool has_with = false;
    bool with_recursive = false;
    std::size_t with_list_begin = 0;  // first CTE
    std::size_t with_list_end = 0;    // end of the last CTE
    std::size_t rewrite_begin = 0;    // start of what the main rewrite replaces
    // Refusal: the statement is replaced by a raise of this error.
    bool refused = false;
    std::string sqlstate;
    std::string message;
    std::vector<std::string> unknown_tables;
    bool changes_catalog = false;
    // Partitions and children of audited tables this statement creates (or links): pgrev's
    // catalog connection cannot see them before they commit, so they are known by name.
    std::vector<ChildTable> new_children;
};

class StatementAnalyzer {
  public:
    StatementAnalyzer(std::string_view sql, const std::vector<Token>& tokens,
                      const CatalogSnapshot& catalog, const config::Audit& policy)
        : sql_(sql), tokens_(tokens), catalog_(catalog), policy_(policy) {}

    StatementAnalysis analyze(const ParsedStatement& statement);

  private:
    // One parse node and where its statement's text is in sql_.
    struct StatementNode {
        const Json& node;  // {"Kind": fields}
        std::string_view kind;
        const Json& fields;
        std::size_t begin;
        std::size_t end;
    };
    using KindAnalyzer = void (StatementAnalyzer::*)(const StatementNode&, StatementAnalysis&);
    // The function that analyses a statement of `kind` other than a query (statement_kinds.cpp);
    // nullptr for a kind pgrev does not look into.
    static KindAnalyzer analyzer_of(std::string_view kind);

    void analyze_node(const Json& node, std::size_t begin, std::size_t end, StatementAnalysis& a);
    // INSERT, UPDATE, DELETE and SELECT: the statements pgrev rewrites, in itself or its WITH.
    void analyze_query(const StatementNode& n, StatementAnalysis& a);
    // A kind analyzer_of does not know: refused when it writes to an audited table.
    void refuse_hidden_writes(const StatementNode& n, StatementAnalysis& a);
    void analyze_dml(std::string_view kind, const Json& fields, std::size_t end,
                     StatementAnalysis& a);
    void analyze_ctes(const Json& fields, StatementAnalysis& a);
    // The site of the DML query of one CTE, with its CTE's text ranges.
    std::optional<DmlSite> cte_site(const Json& cte, StatementAnalysis& a);

    // Statements that change whole tables or a table's definition (table_statements.cpp).
    void analyze_merge(const StatementNode& n, StatementAnalysis& a);
    void analyze_truncate(const StatementNode& n, StatementAnalysis& a);
    void analyze_copy(const StatementNode& n, StatementAnalysis& a);
    void analyze_drop(const StatementNode& n, StatementAnalysis& a);
    void refuse_drop_schema_cascade(const std::string& schema, StatementAnalysis& a);
    void analyze_drop_table(const RelationName& rel, StatementAnalysis& a);
    void analyze_drop_owned(const StatementNode& n, StatementAnalysis& a);
    void analyze_set_schema(const StatementNode& n, StatementAnalysis& a);
    void analyze_rename(const StatementNode& n, StatementAnalysis& a);
    void refuse_new_name_of_audited(const Json& fields, std::string_view what,
                                    StatementAnalysis& a);
    void analyze_opaque_code(const StatementNode& n, StatementAnalysis& a);
    void analyze_create_table(const StatementNode& n, StatementAnalysis& a);
    void analyze_alter_table(const StatementNode& n, StatementAnalysis& a);
    void analyze_explain(const StatementNode& n, StatementAnalysis& a);

    // SQL-level prepared statements, which the session keeps (prepared_statements.cpp).
    void analyze_prepare(const StatementNode& n, StatementAnalysis& a);
    void analyze_execute(const StatementNode& n, StatementAnalysis& a);
    void analyze_create_table_as(const StatementNode& n, StatementAnalysis& a);
    void analyze_deallocate(const StatementNode& n, StatementAnalysis& a);
    void analyze_discard(const StatementNode& n, StatementAnalysis& a);
    // Definitions (functions, rules, triggers, views) do not run now: nothing to refuse.
    void analyze_definition(const StatementNode& n, StatementAnalysis& a);

    // Code the server runs on the client's behalf (code_statements.cpp): DO blocks, routines
    // and rules whose code names an audited or revision table, and the catalog changes that
    // make pgrev read its flagged routines, triggers and rules again.
    void analyze_do(const StatementNode& n, StatementAnalysis& a);
    void analyze_create_routine(const StatementNode& n, StatementAnalysis& a);
    void analyze_rule(const StatementNode& n, StatementAnalysis& a);
    void analyze_code_change(const StatementNode& n, StatementAnalysis& a);
    // OBJECT_FUNCTION, _PROCEDURE, _ROUTINE, _TRIGGER, _RULE: DROP, RENAME and SET SCHEMA of
    // one change what pgrev reads of them.
    static bool is_code_object(std::string_view object_type);
    // "audited table s.t" (or a revision table, a child, ...) that `code` names; empty when it
    // names none (code_names.h).
    std::string table_named_in_code(std::string_view code, bool quoted_are_code) const;
    // The same for the parse tree of an SQL-standard routine body (BEGIN ATOMIC, RETURN).
    std::string table_named_in_tree(const Json& body) const;

    // DDL that changes an audited table's rows without INSERT/UPDATE/DELETE
    // (row_ddl_statements.cpp): ALTER COLUMN ... TYPE ... USING, partitions and children that
    // join or leave it; and rows a client writes into a revision table.
    void check_row_ddl(const Json& cmd, const TableMatch& target, const RelationName& rel,
                       StatementAnalysis& a);
    // `what` would make the rows of `table` join (or leave) those of audited table `audited`.
    void refuse_partition_change(std::string_view what, const std::string& table,
                                 const std::string& audited, bool joins, StatementAnalysis& a);
    // "schema.table" of the audited table whose rows `m` holds or reaches.
    static std::string audited_of(const TableMatch& m);
    // INSERT (but ON CONFLICT DO UPDATE, a history change) or COPY FROM into a revision table,
    // or into a partitioned parent of one, unless audit.allow has rev_backfill.
    bool forges_history(const TableMatch& m, std::string_view kind, const Json& fields) const;
    void refuse_forged_history(const TableMatch& m, std::string_view what, StatementAnalysis& a);

    // The DML of an audited table at `fields` and its text ranges; nullopt when it is not one
    // (or is refused, or its table is unknown).
    std::optional<DmlSite> dml_site(std::string_view kind, const Json& fields, std::size_t end,
                                    StatementAnalysis& a);
    // The audited table a DML of `kind` writes to `m`; nullptr when it is none, is not known
    // yet (a.unknown_tables), or its writes are refused (a child, an unusable table).
    const AuditedTableInfo* audited_target(std::string_view kind, const TableMatch& m,
                                           StatementAnalysis& a);
    // The token of the verb of a DML whose target is at `location`; tokens_.size() if none.
    std::size_t verb_token(int location) const;
    bool analyze_returning(const Json& fields, const Json& returning, DmlSite& s,
                           StatementAnalysis& a);
    void check_target_is_not_rev(std::string_view kind, const Json& fields, StatementAnalysis& a);
    // The catalog's match, and children created by earlier statements of the same text.
    TableMatch match(std::string_view schema, std::string_view name) const;
    // Links between tables (link_statements.cpp): writes through an ancestor, DDL that creates
    // ancestors or children, renames that change what a configured name means, rules and
    // triggers that could divert revisions, DROP ... CASCADE of what a history depends on.
    // Adds refusals, new children and catalog changes; the statement is analysed on after it.
    void check_links(std::string_view kind, const Json& fields, StatementAnalysis& a);
    void check_write_through_ancestor(std::string_view kind, const Json& fields,
                                      StatementAnalysis& a);
    void check_alter_table_links(const Json& fields, StatementAnalysis& a);
    void check_create_links(const Json& fields, StatementAnalysis& a);
    void check_view_links(const Json& fields, StatementAnalysis& a);
    void check_relation_names(std::string_view kind, const Json& fields, StatementAnalysis& a);
    void check_rules_and_policies(std::string_view kind, const Json& fields, StatementAnalysis& a);
    void check_schema_rename(const Json& fields, StatementAnalysis& a);
    // `moved` is renamed or moved to another schema, as `arrives`.
    void check_move(const char* what, const RelationName& moved, const RelationName& arrives,
                    StatementAnalysis& a);
    void check_rev_dependencies(std::string_view kind, const Json& fields, StatementAnalysis& a);
    void add_new_child(const RelationName& rel, const TableMatch& parent, StatementAnalysis& a,
                       bool view = false);
    static bool is_audited_side(const TableMatch& m);  // its rows are or reach audited rows
    static bool is_rev_side(const TableMatch& m);      // its rows are or reach history
    static std::string dotted(const RelationName& rel);
    void refuse_through_ancestor(const TableMatch& m, std::string_view what, StatementAnalysis& a);
    // `m` would become a partition or child of `parent` (or gain it as an ancestor).
    void refuse_link(const TableMatch& m, std::string_view what, const std::string& parent,
                     StatementAnalysis& a);
    // Whether a write of `kind` to `m`, an ancestor, reaches an audited table's rows or changes
    // a revision table's history (unless audit.allow has rev_table_changes).
    bool reaches_through_ancestor(const TableMatch& m, std::string_view kind,
                                  const Json& fields) const;
    // The 42501 refusal of `what` on a revision table (unless allowed); true when refused.
    bool refuse_history_change(const TableMatch& m, std::string_view what, StatementAnalysis& a);
    // A write to it changes an audited table's rows (a partition's included).
    static bool is_audited(const TableMatch& m) {
        return m.kind == TableMatch::Kind::Audited || m.kind == TableMatch::Kind::AuditedUnknown ||
               m.kind == TableMatch::Kind::Child;
    }
    // "audited table s.t", "revision table s.t_rev", or a partition and its audited table.
    std::string table_name(const TableMatch& m) const;
    // The first write count_audited_writes found: its table (as table_name says it) and
    // whether it writes history, which is refused as a privilege, wherever it hides.
    struct HiddenWrite {
        std::string table;
        bool history = false;
        std::string_view sqlstate() const;
    };
    // Writes to audited tables (and history changes of _rev tables) anywhere under `node`.
    int count_audited_writes(const Json& node, HiddenWrite* first = nullptr) const;
    bool analyze_returning_columns(const Json& returning, DmlSite& site, StatementAnalysis& a);
    void expand_stars(const Json& returning, DmlSite& site) const;
    bool type_whole_row_refs(const Json& returning, DmlSite& site, StatementAnalysis& a);
    bool collect_from_items(const Json& item, std::vector<DmlSite::FromItem>& items,
                            StatementAnalysis& a);
    // Fills site.returning_checks and site.whole_row (after the other RETURNING analysis).
    bool plan_returning_check(const Json& returning, DmlSite& site, StatementAnalysis& a);

    // What the statement makes the server run that reaches audited tables without naming
    // them (routine_statements.cpp): calls of flagged routines, writes to tables with flagged
    // triggers or rules, TRUNCATE ... CASCADE through their foreign keys, new triggers running
    // flagged functions. Also marks DDL of routines, triggers and rules as catalog changes.
    void check_server_side_code(const Json& node, StatementAnalysis& a);
    void check_call(const std::pair<std::string, std::string>& name, StatementAnalysis& a);
    void check_write_runs_code(std::string_view kind, const RelationName& rel,
                               StatementAnalysis& a);
    void check_read_runs_code(const RelationName& rel, StatementAnalysis& a);
    // Relations whose definition calls a flagged routine; `reading_only`: those whose code a
    // read of it runs.
    void check_routine_users(const RelationName& rel, bool reading_only, std::string_view what,
                             StatementAnalysis& a);
    void check_truncate_reach(const Json& fields, StatementAnalysis& a);
    void check_trigger_function(const Json& fields, StatementAnalysis& a);

    // The first refusal of the statement; `message` without the "pgrev: " prefix.
    void refuse(StatementAnalysis& a, std::string_view sqlstate, const std::string& message);
    std::size_t last_token_end(std::size_t begin, std::size_t end) const;
    std::string qualified(const config::AuditedTable& t) const;

    std::string_view sql_;
    const std::vector<Token>& tokens_;
    const CatalogSnapshot& catalog_;
    const config::Audit& policy_;
    std::vector<std::string> cte_names_;       // of the statement's WITH: they are not tables
    std::deque<ChildTable> created_children_;  // by earlier statements of the text
};

}  // namespace pgrev::audit
