// "Transparent means identical": a session is run once on a direct connection and once
// through pgrev, each writing what it sees into a transcript, and the transcripts must
// be equal line for line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pq_conn.h"

namespace pgrev::it {

class Transcript {
  public:
    explicit Transcript(PgConn& conn) : conn_(conn) {}

    void note(const std::string& line) { text_ += line + "\n"; }
    // The result, then any notices received meanwhile.
    void result(const std::string& label, const PGresult* result);
    // Runs `sql` as one simple Query: every result, the notices, the transaction status.
    void query(const std::string& sql, Deadline deadline);
    // The results of the current command until libpq reports it done.
    void rest_of_command(const std::string& label, Deadline deadline);
    void transaction_status();
    void notices();
    const std::string& text() const { return text_; }

  private:
    PgConn& conn_;
    std::string text_;
};

using Session = std::function<void(PgConn& conn, Transcript& transcript)>;

// Runs `session` directly and through pgrev on fresh connections of `user` to `db` and
// checks the transcripts are the same. Returns the direct transcript for further checks.
std::string expect_transparent(const std::string& story, const Session& session,
                               const std::string& user = "postgres", const std::string& db = "app");
// The same through the pgrev listening on `proxy_port` (e.g. one with its own configuration).
std::string expect_transparent_at(std::uint16_t proxy_port, const std::string& story,
                                  const Session& session, const std::string& user = "postgres",
                                  const std::string& db = "app");
// The same between any two connection strings (e.g. with sslmode and certificates of their own).
std::string expect_transparent_between(const std::string& story, const Session& session,
                                       const std::string& direct_conninfo,
                                       const std::string& proxied_conninfo);

}  // namespace pgrev::it
