// What a session remembers between messages to keep the client's view exact: which prepared
// statement and portal carries which rewrite, and which result answers which statement.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "audit/rewrite_plan.h"
#include "protocol/result_queue.h"

namespace pgrev::server {

inline protocol::TagFix to_fix(audit::TagVerb verb) {
    return static_cast<protocol::TagFix>(verb);
}
inline audit::TagVerb to_verb(protocol::TagFix fix) {
    return static_cast<audit::TagVerb>(fix);
}

// A protocol-level statement or portal that pgrev changed. Names not in the maps were
// forwarded as they were.
struct RewrittenStatement {
    audit::TagVerb restore_tag = audit::TagVerb::None;
    bool refused = false;  // its text is pgrev's DO block: Bind must carry no parameters
    std::shared_ptr<const audit::RewritePlan> plan;
};

struct QueryState {
    protocol::ResultQueue results;
    std::unordered_map<std::string, RewrittenStatement> statements;
    std::unordered_map<std::string, RewrittenStatement> portals;
    // SQL-level PREPARE of rewritten statements: EXECUTE's tag must become the verb.
    std::unordered_map<std::string, audit::TagVerb> sql_prepared;
    // PostgreSQL's lexer and pgrev's agree only with standard_conforming_strings on, and on a
    // client_encoding whose multibyte characters never contain ASCII bytes.
    bool standard_conforming_strings = true;
    std::string client_encoding = "UTF8";
    // The server's major version is the one whose grammar pgrev parses with (ParameterStatus
    // server_version): a text pgrev cannot parse is then forwarded for the server's own error.
    bool server_has_pgrevs_grammar = false;
    // The client pump waits for a settings barrier (ResultQueue::mark_settings_barrier).
    bool waiting_for_settings = false;
    // A statement changed an audited table's definition: read the catalog again once the
    // transaction is over.
    bool catalog_dirty = false;
    // ... and the transaction is over: this session's next statement waits for the new
    // catalog (a partition it just created must be known before it writes to it).
    bool catalog_refresh_needed = false;
};

}  // namespace pgrev::server
