// What pgrev does with one Query or Parse text: the result of plan_rewrite (rewriter.h), a pure
// function of the text and the catalog snapshot, so it is cached by text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/catalog.h"
#include "audit/splice.h"
#include "protocol/pgrev_message.h"

namespace pgrev::audit {

class PlanTemplate;  // plan_template.h
struct ParameterizedPlan;

// The command tag a client expects for a rewritten statement. The server reports the tag of
// the statement pgrev sent ("INSERT 0 N" for the revision insert, "SELECT N" for a projection
// of RETURNING); the row count is right, the verb is put back.
enum class TagVerb { None, Insert, Update, Delete };

// Bookkeeping for SQL-level PREPARE / EXECUTE / DEALLOCATE, which live in the session.
enum class PreparedOp {
    None,
    Prepare,
    Execute,
    // CREATE TABLE AS EXECUTE: PostgreSQL refuses a prepared statement that is not a SELECT,
    // but a rewritten one with RETURNING is a SELECT now; the session refuses it instead.
    CreateTableAsExecute,
    Deallocate,
    DeallocateAll,
};

// One top-level statement of the text, in order: the server answers each with exactly one
// CommandComplete or EmptyQueryResponse (or stops at an error).
struct StatementPlan {
    TagVerb restore_tag = TagVerb::None;
    PreparedOp prepared_op = PreparedOp::None;
    std::string prepared_name;
    TagVerb prepared_tag = TagVerb::None;  // with Prepare: what EXECUTE's tag must become
};

struct RewritePlan {
    enum class Action {
        Forward,      // send the text as it is
        Rewrite,      // send `sql` instead
        Refuse,       // send `sql` instead: a DO block that raises pgrev's error
        NeedCatalog,  // a configured table is not in the snapshot: read the catalog, plan again
    };

    Action action = Action::Forward;
    std::string sql;
    // Empty when the text was not parsed: then no tag needs fixing.
    std::vector<StatementPlan> statements;
    // With Refuse: for the log.
    std::string refusal_sqlstate;
    std::string refusal_message;
    // A statement changes the definition of an audited table: re-read the catalog after it.
    bool changes_catalog = false;
    // Partitions and children of audited tables the statements create: known by name until
    // pgrev's catalog connection can see them (CatalogService::invalidate).
    std::vector<ChildTable> new_children;
    // With NeedCatalog: the configured tables the snapshot lacks, "schema.table".
    std::vector<std::string> unknown_tables;
    // The statements write to audited tables (rewritten).
    bool audits = false;
    // Every statement is a rewritten INSERT, UPDATE or DELETE without RETURNING: the server
    // sends no rows for it, so a prepared form of it cannot change its result type.
    bool returns_no_rows = false;
    // Every statement is a rewritten INSERT, UPDATE or DELETE without RETURNING or whose
    // RETURNING names its columns (DmlSite::returning_names_columns): a prepared form of it
    // can change its result type only if the type of a column it returns changes.
    bool result_columns_named = false;
    // Nothing in the plan depends on the values of the text's literals or on its comments:
    // every statement is an INSERT, UPDATE, DELETE or SELECT, whose analysis reads names and
    // structure only (plan_template.h).
    bool literal_blind = false;
    // With a plan cached for a shape: how to make the plan of another text of that shape.
    std::shared_ptr<const PlanTemplate> shape_template;
    // With a plan filled in from a template: the same plan with the number literals of `sql`
    // as parameters and without the client's comments, for a session to keep prepared
    // (plan_template.h); null when none. Without parameters when the text has its own.
    std::shared_ptr<const ParameterizedPlan> parameterized;
    // With Rewrite/Refuse: the client's text and where its pieces went in `sql`, to map an
    // error position back (map_error_position).
    std::string original;
    std::vector<SourcePiece> source_map;

    int original_error_position(int position) const {
        return map_error_position(position, sql, original, source_map);
    }

    // The server's error `message` is a refusal of this plan, raised by its DO block: pgrev's
    // own message, not the server's (also when a statement other than the first is refused).
    bool is_refusal_error(std::string_view message) const {
        return action == Action::Refuse &&
               (protocol::is_pgrev_message(message) || message == refusal_message);
    }
};

// A plan whose `sql` has parameters $1..$n: their types (OIDs) and values, in text format.
struct ParameterizedPlan {
    RewritePlan plan;
    std::vector<std::uint32_t> types;
    std::vector<std::string> values;
    // The client's text has parameters of its own ($1): `types` is empty, and the form is
    // only for an unnamed Parse (a simple Query of it fails as it is).
    bool text_has_parameters = false;
};

// "INSERT", "UPDATE", "DELETE"; "" for None.
const char* verb_name(TagVerb verb);

// "UPDATE 3" for verb Update and server tag "INSERT 0 3" or "SELECT 3".
std::string restore_tag(TagVerb verb, const std::string& server_tag);

// An error message that names the command pgrev sent ("cannot execute INSERT in a read-only
// transaction" for a rewritten UPDATE) with the client's verb instead; others unchanged.
std::string restore_error_message(TagVerb verb, const std::string& message);

}  // namespace pgrev::audit
