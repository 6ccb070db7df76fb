#include "pq_conn.h"

#include <poll.h>

#include <cerrno>

namespace pgrev::it {

namespace {

std::string field(const PGresult* result, int code) {
    const char* value = PQresultErrorField(result, code);
    return value == nullptr ? "" : value;
}

}  // namespace

void wait_for_socket(int fd, bool for_write, Deadline deadline, const char* what) {
    if (fd < 0) return;  // libpq reports the broken connection itself
    pollfd entry{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        int timeout_ms = left.count() < 0 ? 0 : static_cast<int>(left.count());
        int ready = poll(&entry, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready == 0) throw TimeoutError(std::string("timed out waiting for ") + what);
        return;
    }
}

PgConn::Attempt PgConn::try_connect(const std::string& conninfo, Deadline deadline,
                                    bool verbose_errors) {
    Attempt attempt;
    PGconn* raw = PQconnectStart(conninfo.c_str());
    if (raw == nullptr) {
        attempt.error = "PQconnectStart: out of memory";
        return attempt;
    }
    auto sink = std::make_unique<NoticeSink>();
    PQsetNoticeReceiver(raw, &PgConn::receive_notice, sink.get());
    PgConn conn(raw, std::move(sink));
    if (verbose_errors) PQsetErrorVerbosity(raw, PQERRORS_VERBOSE);
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus(raw) != CONNECTION_BAD && state != PGRES_POLLING_OK &&
           state != PGRES_POLLING_FAILED) {
        wait_for_socket(PQsocket(raw), state == PGRES_POLLING_WRITING, deadline,
                        ("connection to " + conninfo).c_str());
        state = PQconnectPoll(raw);
    }
    if (PQstatus(raw) == CONNECTION_OK) {
        attempt.conn = std::make_unique<PgConn>(std::move(conn));
    } else {
        attempt.error = PQerrorMessage(raw);
    }
    return attempt;
}

PgConn PgConn::connect(const std::string& conninfo, Deadline deadline) {
    Attempt attempt = try_connect(conninfo, deadline);
    if (!attempt.conn)
        throw std::runtime_error("cannot connect (" + conninfo + "): " + attempt.error);
    return std::move(*attempt.conn);
}

void PgConn::receive_notice(void* sink, const PGresult* notice) {
    auto* notices = static_cast<NoticeSink*>(sink);
    notices->notices.push_back(field(notice, PG_DIAG_SEVERITY_NONLOCALIZED) + " " +
                               field(notice, PG_DIAG_SQLSTATE) + ": " +
                               field(notice, PG_DIAG_MESSAGE_PRIMARY));
}

std::vector<std::string> PgConn::take_notices() {
    std::vector<std::string> taken;
    taken.swap(notices_->notices);
    return taken;
}

bool PgConn::wait_and_consume(Deadline deadline) {
    wait_for_socket(PQsocket(get()), false, deadline, "server input");
    return PQconsumeInput(get()) == 1;
}

PgResult PgConn::next_result(Deadline deadline) {
    while (PQisBusy(get())) {
        if (!wait_and_consume(deadline)) break;  // PQgetResult reports the failure
    }
    return PgResult(PQgetResult(get()));
}

std::vector<PgResult> PgConn::run(const std::string& sql, Deadline deadline) {
    std::vector<PgResult> results;
    if (!PQsendQuery(get(), sql.c_str())) {
        results.emplace_back(PQmakeEmptyPGresult(get(), PGRES_FATAL_ERROR));
        return results;
    }
    while (PgResult result = next_result(deadline)) {
        ExecStatusType status = PQresultStatus(result.get());
        results.push_back(std::move(result));
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) break;
    }
    return results;
}

PgResult PgConn::run_one(const std::string& sql, Deadline deadline, ExecStatusType expected) {
    std::vector<PgResult> results = run(sql, deadline);
    if (results.size() != 1 || PQresultStatus(results[0].get()) != expected) {
        std::string got = std::to_string(results.size()) + " results";
        if (!results.empty()) {
            got += ", the first " + std::string(PQresStatus(PQresultStatus(results[0].get()))) +
                   " " + PQresultErrorMessage(results[0].get());
        }
        throw std::runtime_error("unexpected result for \"" + sql.substr(0, 200) + "\": " + got +
                                 " (expected one " + PQresStatus(expected) + ") " +
                                 error_message());
    }
    return std::move(results[0]);
}

std::string PgConn::value(const std::string& sql, Deadline deadline) {
    PgResult result = run_one(sql, deadline);
    if (PQntuples(result.get()) != 1 || PQnfields(result.get()) != 1) {
        throw std::runtime_error("expected one value from \"" + sql + "\"");
    }
    return PQgetvalue(result.get(), 0, 0);
}

std::optional<PgConn::Notification> PgConn::wait_for_notification(Deadline deadline) {
    for (;;) {
        PQconsumeInput(get());
        if (PGnotify* notify = PQnotifies(get())) {
            Notification notification{notify->relname, notify->extra, notify->be_pid};
            PQfreemem(notify);
            return notification;
        }
        try {
            wait_for_socket(PQsocket(get()), false, deadline, "a notification");
        } catch (const TimeoutError&) {
            return std::nullopt;
        }
        if (!PQconsumeInput(get())) return std::nullopt;
    }
}

}  // namespace pgrev::it
