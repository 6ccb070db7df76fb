// What a session remembers between messages to keep the client's view exact: which prepared
// statement and portal carries which rewrite, and which result answers which statement.
//
// The books change only when the server confirms the change (ParseComplete, CloseComplete, the
// CommandComplete of PREPARE or DEALLOCATE): until then the change waits on its result-queue
// entry, and an error drops it with the entry. Portals end with their transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "audit/rewrite_plan.h"
#include "protocol/result_queue.h"
#include "server/own_statements.h"

namespace pgrev::server {

// A protocol-level statement or portal that pgrev changed. Names not in the maps were
// forwarded as they were.
struct RewrittenStatement {
    audit::TagVerb restore_tag = audit::TagVerb::None;
    bool refused = false;  // its text is pgrev's DO block: Bind must carry no parameters
    std::shared_ptr<const audit::RewritePlan> plan;
    std::uint64_t bind_point = 0;  // portals: ResultQueue::bind_point() when bound
    // The unnamed statement of a text pgrev may keep prepared (server/own_statements.h): its
    // key, and the name of pgrev's statement the server knows it as ("" until it has one).
    std::shared_ptr<const std::string> reuse_key;
    std::string server_name;
};

// A change of the statement names that waits for ParseComplete or CloseComplete: the pending
// context of a Parse or Close entry. No statement: the name is no longer one pgrev changed.
struct StatementChange {
    std::string name;
    std::optional<RewrittenStatement> statement;
};

// What a result-queue entry waits to confirm: the statement name a Parse defines or a Close
// drops, or, for a Query, the plan whose SQL PREPARE, EXECUTE and DEALLOCATE change the books
// statement by statement (QueryState::confirm). At most one of the two; neither: nothing.
struct BooksChange {
    struct OwnStatement {
        std::string key;
        std::string name;
    };
    std::shared_ptr<const StatementChange> name;    // Parse, Close
    std::shared_ptr<const audit::RewritePlan> sql;  // Query
    std::shared_ptr<const std::string> own_close;   // OwnClose of pgrev's statement
    std::shared_ptr<const OwnStatement> own_parse;  // QueryExtended creating pgrev's statement
    explicit operator bool() const { return name || sql || own_close || own_parse; }

    // What a Parse or Close makes of a statement name once the server confirms it.
    static BooksChange renaming(std::string name, std::optional<RewrittenStatement> statement) {
        BooksChange change;
        change.name = std::make_shared<const StatementChange>(
            StatementChange{std::move(name), std::move(statement)});
        return change;
    }
};

// What the session attaches to the result queue's entries (protocol/result_queue.h).
struct ResultPayload {
    using Fix = audit::TagVerb;  // TagVerb::None leaves a CommandComplete alone
    using Context = std::shared_ptr<const audit::RewritePlan>;  // the plan of the entry's text
    using Pending = BooksChange;
};
using ResultQueue = protocol::BasicResultQueue<ResultPayload>;

struct QueryState {
    ResultQueue results;
    std::unordered_map<std::string, RewrittenStatement> statements;
    std::unordered_map<std::string, RewrittenStatement> portals;
    // SQL-level PREPARE of rewritten statements: EXECUTE's tag must become the verb.
    std::unordered_map<std::string, audit::TagVerb> sql_prepared;
    // pgrev's own prepared statements on this server session.
    OwnStatements own;
    // A simple Query sent as pgrev's prepared statement returns rows (ClientMessages::
    // query_kept): the RowDescription its Describe brings is held until the first row or the
    // CommandComplete comes, and dropped with an error, since a Query sends it only once its
    // statement ran (the rows of a data-modifying statement are collected first).
    struct HeldRowDescription {
        bool awaited = false;  // the next RowDescription is to be held
        std::string bytes;     // held, until released or dropped
        void drop() {
            awaited = false;
            bytes.clear();
        }
    } row_description;
    // Of the last ReadyForQuery: 'E' is a failed transaction, where a Parse fails.
    char transaction_status = 'I';
    // What the server reported last (ParameterStatus): how it reads the next text. Only
    // standard_conforming_strings on, and a client_encoding whose multibyte characters never
    // contain ASCII bytes, read as pgrev's lexer does.
    bool standard_conforming_strings = true;
    std::string client_encoding = "UTF8";
    // The server's major version is the one whose grammar pgrev parses with (ParameterStatus
    // server_version): a text pgrev cannot parse is then forwarded for the server's own error.
    bool server_has_pgrevs_grammar = false;
    // The client pump holds a message until the answers in flight have come, with the
    // settings they report.
    bool waiting_for_settings = false;
    // A statement changed an audited table's definition: read the catalog again once the
    // transaction is over.
    bool catalog_dirty = false;
    // ... and the transaction is over: this session's next statement waits for the new
    // catalog (a partition it just created must be known before it writes to it).
    bool catalog_refresh_needed = false;

    // Whether any name is, or is about to be, in the books (a cheap test for the hot path).
    // pgrev's own statements count: DEALLOCATE ALL and DISCARD ALL drop them too.
    bool has_names() const {
        return !statements.empty() || !sql_prepared.empty() || results.has_pending() ||
               !own.empty();
    }
    // The statement `name` will be when the server reads the next message: the confirmed
    // books with the changes in flight applied (nullopt: none pgrev changed).
    std::optional<RewrittenStatement> statement_in_flight(const std::string& name) const;
    // The answer confirmed a Parse or Close.
    void apply(const StatementChange& change);
    // The CommandComplete of a statement confirmed it: SQL PREPARE and DEALLOCATE change the
    // books now; returns the verb its tag must have (EXECUTE's is looked up now).
    audit::TagVerb confirm(const audit::StatementPlan& statement, audit::TagVerb fix);
    // ReadyForQuery: `transaction_status` 'I' means every portal bound before it is gone.
    void on_ready(char transaction_status);
};

}  // namespace pgrev::server
