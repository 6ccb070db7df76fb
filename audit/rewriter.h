// plan_rewrite turns the text of a Query or Parse into what pgrev sends instead
// (docs/ARCHITECTURE.md, "Life of a client message"): every INSERT/UPDATE/DELETE of an audited
// table becomes one statement whose data-modifying CTE also writes <table>_rev, and a statement
// pgrev must refuse becomes a DO block that raises pgrev's error on the server. The user's SQL is
// spliced in verbatim.
#pragma once

#include <string>
#include <string_view>

#include "audit/catalog.h"
#include "audit/rewrite_plan.h"
#include "config/config.h"

namespace pgrev::audit {

// `catalog_is_fresh`: the snapshot was read after this text arrived, so a configured table it
// lacks does not exist (or is not visible yet) and is refused rather than asked for.
// `server_has_pgrevs_grammar`: the server runs the major version libpg_query parses
// (same_major_version), so a text libpg_query cannot parse is forwarded for the server's own
// error rather than refused.
RewritePlan plan_rewrite(std::string_view sql, const CatalogSnapshot& catalog,
                         const config::Audit& policy, bool catalog_is_fresh,
                         bool server_has_pgrevs_grammar = false);

// The statement sent in place of a refused one: the server raises the error, so the client
// gets an ordinary ErrorResponse and an open transaction block fails as after any error.
std::string refusal_statement(std::string_view sqlstate, std::string_view message);

// The plan of a text refused as a whole, in one statement: `message` (made with
// protocol::pgrev_message) raised with `sqlstate` by refusal_statement.
RewritePlan refusal_plan(std::string_view sqlstate, std::string message);

// The search_path guard of a rewritten statement fails by casting its message to int4 (the
// planner cannot raise it early so): when the server's error (`sqlstate`, `message`) is that,
// the guard's message (starting "pgrev: "), for the client to get as a refusal; "" otherwise.
std::string search_path_guard_message(std::string_view sqlstate, std::string_view message);

}  // namespace pgrev::audit
