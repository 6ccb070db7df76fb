// Helpers shared by the audit integration tests: connections, queries whose answers are
// compared as text, revision-row counts, and "transparent and audited" sessions.
#pragma once

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "differential.h"
#include "pq_conn.h"
#include "test_env.h"

// Rows compared in CHECKs print as a list.
template <>
struct doctest::StringMaker<std::vector<std::string>> {
    static doctest::String convert(const std::vector<std::string>& lines) {
        std::string text = "{";
        for (std::size_t i = 0; i < lines.size(); ++i)
            text += (i == 0 ? "\"" : ", \"") + lines[i] + "\"";
        return (text + "}").c_str();
    }
};

namespace pgrev::it::audit_it {

Deadline soon();  // every wait of these tests: 10 s

PgConn connect_direct(const std::string& user = "postgres", const std::string& db = "app");
PgConn connect_proxied(const std::string& user = "postgres", const std::string& db = "app");
PgConn connect_via(std::uint16_t port, const std::string& user = "postgres",
                   const std::string& db = "app");

// Runs `sql` as one simple Query (it may hold several statements), each of which must
// succeed; returns the last command tag.
std::string exec(PgConn& c, const std::string& sql);
// The rows of a query, one line each: values joined by '|', NULL as "NULL".
std::vector<std::string> rows(PgConn& c, const std::string& sql);
long count(PgConn& c, const std::string& sql);
// All rows and every column of `table`, sorted: equal before and after means unchanged.
std::string contents(PgConn& c, const std::string& table);

// What one statement answered, for assertions on refusals and tags.
struct Outcome {
    std::string status;  // PQresStatus
    std::string tag;
    std::string sqlstate;
    std::string message;
    std::vector<std::string> rows;

    bool ok() const { return sqlstate.empty(); }
    std::string describe() const;
};
Outcome outcome_of(const PGresult* result);
// The last result of a simple Query (the first error, if any).
Outcome simple(PgConn& c, const std::string& sql);
// PQexecParams with text parameters (nullptr is NULL).
Outcome with_params(PgConn& c, const std::string& sql, const std::vector<const char*>& params);

// PQprepare and PQexecPrepared, with deadlines.
Outcome prepare_now(PgConn& c, const std::string& name, const std::string& sql);
Outcome execute_now(PgConn& c, const std::string& name, const std::vector<const char*>& params);

// Extended-protocol steps written into a transcript.
void send_params(PgConn& c, Transcript& t, const std::string& sql,
                 const std::vector<const char*>& params = {});
void prepare(PgConn& c, Transcript& t, const std::string& name, const std::string& sql);
void exec_prepared(PgConn& c, Transcript& t, const std::string& name,
                   const std::vector<const char*>& params = {});
// The parameter types and result columns the server describes for a prepared statement.
void describe_prepared(PgConn& c, Transcript& t, const std::string& name);

// A session run directly and through pgrev (the shared one, or the one on `port`) inside
// BEGIN ... ROLLBACK: the transcripts must be equal, the pgrev run must have added
// `expected_revs` rows to `rev_table` by the end of the session's body (-1: do not count, e.g.
// when the body leaves the transaction failed), and after the ROLLBACK none may be left.
struct AuditedStory {
    std::string story;
    Session body;
    int expected_revs = -1;
    std::string rev_table = "reservation_rev";
    std::uint16_t port = 0;  // 0: the shared pgrev
};
std::string expect_audited_transparent(const AuditedStory& story);

// Rows of `reservation` and `dinner_slot` (not audited) with ids 100001-100003 that the
// transparency stories change inside their transactions; inserted directly, so no revisions.
void seed_reservations();

// Runs `sql` on a direct superuser connection when it goes out of scope (clean-up of tables
// a test created), ignoring errors.
class DirectCleanup {
  public:
    explicit DirectCleanup(std::string sql, std::string db = "app")
        : sql_(std::move(sql)), db_(std::move(db)) {}
    ~DirectCleanup();
    DirectCleanup(const DirectCleanup&) = delete;
    DirectCleanup& operator=(const DirectCleanup&) = delete;

  private:
    std::string sql_;
    std::string db_;
};

}  // namespace pgrev::it::audit_it

namespace pgrev::it::audit_it {

// Creates database `db` with `schema_sql` in it, runs a pgrev of the shared options (with
// `audit`, when given, as its audit.tables) in front of the cluster, and returns what pgrev
// said; checks that it refused to start. The database is dropped again before it returns.
std::string start_refused(const std::string& db, const std::string& schema_sql,
                          const std::string& audit = {});

// A story of simple Queries, one Query message per element.
AuditedStory queries(std::string story, std::vector<std::string> sqls, int expected_revs);
// Runs every story, each in its own doctest subcase so that one failure does not hide the next.
void run_stories(const std::vector<AuditedStory>& stories);

}  // namespace pgrev::it::audit_it
