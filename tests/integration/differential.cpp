#include "differential.h"

#include <doctest/doctest.h>

#include <cstdlib>

#include "result_text.h"
#include "test_env.h"

namespace pgrev::it {

namespace {

const std::string kFailureMark = "!!! the test session failed: ";

const char* transaction_status_name(PGTransactionStatusType status) {
    switch (status) {
        case PQTRANS_IDLE:
            return "IDLE";
        case PQTRANS_ACTIVE:
            return "ACTIVE";
        case PQTRANS_INTRANS:
            return "INTRANS";
        case PQTRANS_INERROR:
            return "INERROR";
        case PQTRANS_UNKNOWN:
            return "UNKNOWN";
    }
    return "?";
}

std::string transcript_of(const std::string& conninfo, const Session& session) {
    try {
        PgConn conn = PgConn::connect(conninfo, deadline_in(std::chrono::seconds(10)));
        Transcript transcript(conn);
        try {
            session(conn, transcript);
        } catch (const std::exception& error) {
            transcript.note(kFailureMark + error.what());
        }
        return transcript.text();
    } catch (const std::exception& error) {
        return kFailureMark + error.what() + "\n";
    }
}

}  // namespace

void Transcript::result(const std::string& label, const PGresult* result) {
    text_ += label + ": " + describe_result(result);
    notices();
}

void Transcript::query(const std::string& sql, Deadline deadline) {
    note("> " + sql);
    // Result by result, so a notice lands between the results it arrived between.
    if (!PQsendQuery(conn_.get(), sql.c_str())) {
        note("  send failed: " + conn_.error_message());
        return;
    }
    while (PgResult next = conn_.next_result(deadline)) {
        ExecStatusType status = PQresultStatus(next.get());
        result("  result", next.get());
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT) break;  // copy_test.cpp's job
    }
    notices();
    transaction_status();
}

void Transcript::rest_of_command(const std::string& label, Deadline deadline) {
    while (PgResult next = conn_.next_result(deadline))
        result(label, next.get());
}

void Transcript::transaction_status() {
    note(std::string("  transaction ") + transaction_status_name(PQtransactionStatus(conn_.get())));
}

void Transcript::notices() {
    for (const std::string& notice : conn_.take_notices())
        note("  notice " + notice);
}

std::string expect_transparent(const std::string& story, const Session& session,
                               const std::string& user, const std::string& db) {
    return expect_transparent_at(TestEnv::get().proxy_port(), story, session, user, db);
}

std::string expect_transparent_at(std::uint16_t proxy_port, const std::string& story,
                                  const Session& session, const std::string& user,
                                  const std::string& db) {
    TestEnv& env = TestEnv::get();
    return expect_transparent_between(story, session, env.direct(user, db),
                                      env.via_port(proxy_port, user, db));
}

std::string expect_transparent_between(const std::string& story, const Session& session,
                                       const std::string& direct_conninfo,
                                       const std::string& proxied_conninfo) {
    std::string direct = transcript_of(direct_conninfo, session);
    std::string proxied = transcript_of(proxied_conninfo, session);
    CHECK_MESSAGE(direct.find(kFailureMark) == std::string::npos,
                  story << ": the session fails even directly:\n"
                        << direct);
    check_same(story, direct, proxied);
    if (std::getenv("PGREV_TEST_VERBOSE") != nullptr) MESSAGE(story << ":\n" << direct);
    return direct;
}

}  // namespace pgrev::it
