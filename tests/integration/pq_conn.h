// libpq with deadlines: every wait in the tests is bounded, so a proxy that hangs makes a
// test fail with a message instead of hanging the suite.
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "raw_client.h"

namespace pgrev::it {

class TimeoutError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct PgResultDeleter {
    void operator()(PGresult* result) const { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

class PgConn {
  public:
    // Connection failure is reported as the text of PQerrorMessage in `error` (with
    // SQLSTATE and LOCATION lines when `verbose_errors`); a deadline throws TimeoutError.
    struct Attempt;
    static Attempt try_connect(const std::string& conninfo, Deadline deadline,
                               bool verbose_errors = false);
    // Throws std::runtime_error with libpq's message when the connection fails.
    static PgConn connect(const std::string& conninfo, Deadline deadline);

    PgConn(PgConn&&) noexcept = default;
    PgConn& operator=(PgConn&&) noexcept = default;
    ~PgConn() = default;

    PGconn* get() const { return conn_.get(); }
    bool ok() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
    std::string error_message() const { return PQerrorMessage(conn_.get()); }

    // The next result of the current command (nullptr when it is done), waiting for input
    // without blocking past the deadline.
    PgResult next_result(Deadline deadline);
    // Sends `sql` as one simple Query and returns all its results.
    std::vector<PgResult> run(const std::string& sql, Deadline deadline);
    // run() for exactly one statement; throws unless its status is `expected`.
    PgResult run_one(const std::string& sql, Deadline deadline,
                     ExecStatusType expected = PGRES_TUPLES_OK);
    // The single value of a one-row, one-column query.
    std::string value(const std::string& sql, Deadline deadline);
    // Waits until input arrives (or the deadline passes) and consumes it.
    bool wait_and_consume(Deadline deadline);
    // Waits for a NOTIFY; nothing if none arrives before the deadline.
    struct Notification {
        std::string channel;
        std::string payload;
        int sender_pid = 0;
    };
    std::optional<Notification> wait_for_notification(Deadline deadline);

    // Notices received since the last call, each formatted as "SEVERITY SQLSTATE: message".
    std::vector<std::string> take_notices();

  private:
    struct PGconnDeleter {
        void operator()(PGconn* conn) const { PQfinish(conn); }
    };
    struct NoticeSink {
        std::vector<std::string> notices;
    };
    PgConn(PGconn* conn, std::unique_ptr<NoticeSink> sink)
        : conn_(conn), notices_(std::move(sink)) {}
    static void receive_notice(void* sink, const PGresult* notice);

    std::unique_ptr<PGconn, PGconnDeleter> conn_;
    std::unique_ptr<NoticeSink> notices_;  // on the heap: libpq holds its address
};

struct PgConn::Attempt {
    std::unique_ptr<PgConn> conn;  // set on success
    std::string error;             // set on failure
};

// Waits until fd is readable (or writable); throws TimeoutError at the deadline.
void wait_for_socket(int fd, bool for_write, Deadline deadline, const char* what);

}  // namespace pgrev::it
