// pgrev's own prepared statements on a server session: the rewritten form of an audited text
// that a client sends again and again as an unnamed Parse (node-postgres, psycopg 3 below its
// prepare threshold), kept prepared so that the server parses and plans the long rewrite once.
//
// How (docs/ARCHITECTURE.md, "Life of a client message"; ClientMessages::on_parse):
//   1st unnamed Parse of text T with parameter types P: forwarded as always; its ParseComplete
//       makes T/P *seen* on this session.
//   2nd: pgrev sends Close of the unnamed statement and Parse of `__pgrev_<n>` (the same
//       rewritten text and types); the server's CloseComplete is pgrev's, its ParseComplete
//       answers the client's Parse. Once confirmed, `__pgrev_<n>` is *created*.
//   3rd and later: pgrev sends only Close of the unnamed statement and answers the client's
//       Parse with a ParseComplete in place of the server's CloseComplete: it comes exactly
//       where the Parse's would, and not at all when an earlier error makes the server skip
//       to Sync. The Close drops the server's unnamed statement as the client's Parse would.
//   Meanwhile the client's unnamed statement is `__pgrev_<n>` to the server: Bind and
//   Describe of it name `__pgrev_<n>` (RewrittenStatement::server_name); another unnamed
//   Parse, a simple Query or a Close of it ends that.
//
// Only rewritten texts whose result columns are the ones they name qualify (no RETURNING, or
// one without `*` and whole-row values: RewritePlan::result_columns_named): the server
// revalidates a kept statement after DDL done behind pgrev's back, and one returning rows
// fails with "cached plan must not change result type" where the client's own Parse would
// not when a column it returns changes type. That error retires every statement of the
// session, so it comes once; a `*` would make it come after any ADD or DROP COLUMN. pgrev's
// statements are
// retired when its catalog changes (a new generation, a statement that changes the catalog or
// passes the DDL prefilter), forgotten when DISCARD ALL / DEALLOCATE ALL drops them, and at
// most kMaxStatements are kept (the least recently used is closed).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace pgrev::server {

class OwnStatements {
  public:
    static constexpr std::size_t kMaxStatements = 32;
    static constexpr std::size_t kMaxSeen = 64;
    static constexpr std::string_view kPrefix = "__pgrev_";

    // The key of a client's text and parameter types.
    static std::string key(std::string_view sql, const std::vector<std::uint32_t>& types);
    static bool is_reserved(std::string_view statement_name) {
        return statement_name.substr(0, kPrefix.size()) == kPrefix;
    }

    enum class Step {
        Forward,  // send the client's Parse (1st time, or no reuse now)
        Create,   // send Parse of `name`
        Reuse,    // send no Parse: `name` exists
    };
    struct Decision {
        Step step = Step::Forward;
        std::string name;
    };
    // What to do with an unnamed Parse of `key` whose rewrite is `sql` under catalog
    // `generation`. A statement of an older generation or another text is retired. Asked
    // only when no ReadyForQuery is still to come: what is in flight is then this pipeline's,
    // which the server either reads in order or skips to its end after an error.
    Decision decide(const std::string& key, const std::string& sql, std::uint64_t generation);

    // `key`, just decided Create, must not be kept after all (its Parse is not sent): it
    // is never created, and later decisions for it are Forward.
    void mark_unkeepable(const std::string& key);

    // The server confirmed an unnamed Parse of `key` (1st time) or the statement `name`.
    void on_seen(const std::string& key);
    void on_created(const std::string& key, const std::string& name);
    // A Close of `name` pgrev sent was confirmed.
    void on_closed(const std::string& name);

    // The statements that pgrev should Close (retired or evicted); they count as closing
    // until on_closed, or go back to the list at the next ReadyForQuery (the server skipped
    // the Close after an error).
    std::vector<std::string> take_to_close();
    // ReadyForQuery: every answer before it came. Statements whose Parse was not confirmed
    // were not created; Closes not confirmed were skipped.
    void on_ready();
    // pgrev's catalog changed, or may have: no statement is reused again; all are closed.
    void retire_all();
    // The server dropped every prepared statement (DISCARD ALL, DEALLOCATE ALL).
    void forget_all();
    // A client gives a statement of its own a name of pgrev's kind (a Parse, or a PREPARE
    // pgrev analysed): pgrev never takes that name, so that the client's and pgrev's cannot
    // meet (the client's Parse could fail, or bind pgrev's statement).
    void note_client_name(std::string_view name) {
        if (is_reserved(name)) client_names_.emplace(name);
    }

    // Nothing pgrev prepared, closes or remembers on the server session.
    bool empty() const {
        return by_key_.empty() && closing_.empty() && to_close_.empty() && seen_.empty();
    }
    std::size_t size() const { return by_key_.size(); }

  private:
    struct Statement {
        std::string name;
        std::string sql;
        std::uint64_t generation = 0;
        bool created = false;  // confirmed; else its Parse is in flight
        std::uint64_t last_use = 0;
    };
    void retire(std::unordered_map<std::string, Statement>::iterator it);
    void evict_if_full();

    std::unordered_map<std::string, Statement> by_key_;
    std::unordered_set<std::string> seen_;  // keys whose unnamed Parse the server confirmed
    std::unordered_set<std::string> unkeepable_;
    std::vector<std::string> closing_;
    std::vector<std::string> to_close_;
    std::unordered_set<std::string> client_names_;
    std::uint64_t generation_ = 0;  // of the catalog the last decision was made under
    std::uint64_t next_name_ = 1;
    std::uint64_t uses_ = 0;
};

}  // namespace pgrev::server
