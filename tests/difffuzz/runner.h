// Runs steps on one connection and writes what the client sees as text: every result
// (status, tag, columns with types, rows, error fields), notices, and the transaction status.
// The texts of the direct and the proxied run are what the comparer compares.
#pragma once

#include <map>
#include <string>

#include "pq_conn.h"
#include "step.h"

namespace pgrev::difffuzz {

// Type names for user-defined type OIDs (a domain, a table's row type), which differ
// between the two databases although they name the same type.
class TypeNames {
  public:
    explicit TypeNames(std::string admin_conninfo) : conninfo_(std::move(admin_conninfo)) {}
    std::string name(unsigned oid);

  private:
    std::string conninfo_;
    std::map<unsigned, std::string> cache_;
};

// What the client saw for `step`. A lost connection or a timeout is written into the text.
std::string run_step(it::PgConn& conn, const Step& step, TypeNames& types);

// The message of the first `pgrev:` error in a transcript, or empty.
std::string pgrev_refusal(const std::string& transcript);

}  // namespace pgrev::difffuzz
