// What goes through two TLS legs: cancel (forwarded over TLS), COPY both ways, a 100 MB result,
// 60 clients at once.
#include <doctest/doctest.h>

#include <cstdint>
#include <latch>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "tls_support.h"

using namespace pgrev::it;
using namespace pgrev::it::tls_it;

namespace {

const std::string kScram = TestRoles::kScramUser;

Deadline long_soon() {
    return deadline_in(std::chrono::seconds(60));
}

// TLS on both legs, each verified: client verify-full against pgrev, pgrev verify-full
// against PostgreSQL.
std::unique_ptr<PgrevProcess> start_verifying_pgrev() {
    PgrevTls tls;
    tls.client_mode = "require";
    return start_pgrev(tls);
}

PgConn connect_both_legs_tls(PgrevProcess& pgrev, const std::string& user = kScram) {
    PgConn conn = PgConn::connect(conninfo(pgrev.port(), user, "app", "verify-full"), soon());
    REQUIRE(client_ssl(conn));
    REQUIRE(backend_ssl(conn) == "t");
    return conn;
}

// FNV-1a over every value of a result read row by row (single-row mode), so 100 MB are
// compared without holding them twice.
struct Digest {
    std::uint64_t hash = 1469598103934665603ull;
    std::uint64_t rows = 0;
    std::uint64_t bytes = 0;
    void add(const char* data, std::size_t size) {
        for (std::size_t i = 0; i < size; ++i) {
            hash ^= static_cast<unsigned char>(data[i]);
            hash *= 1099511628211ull;
        }
        bytes += size;
    }
    bool operator==(const Digest&) const = default;
};

Digest digest_of(PgConn& conn, const std::string& sql) {
    REQUIRE(PQsendQuery(conn.get(), sql.c_str()) == 1);
    REQUIRE(PQsetSingleRowMode(conn.get()) == 1);
    Digest digest;
    while (PgResult result = conn.next_result(long_soon())) {
        ExecStatusType status = PQresultStatus(result.get());
        if (status == PGRES_TUPLES_OK) continue;  // the end of the rows
        if (status != PGRES_SINGLE_TUPLE) FAIL(PQresultErrorMessage(result.get()));
        for (int c = 0; c < PQnfields(result.get()); ++c)
            digest.add(PQgetvalue(result.get(), 0, c), PQgetlength(result.get(), 0, c));
        ++digest.rows;
    }
    return digest;
}

// Everything COPY ... TO STDOUT sends.
std::string copy_out(PgConn& conn, const std::string& sql) {
    PgResult started = conn.run_one(sql, soon(), PGRES_COPY_OUT);
    std::string data;
    for (;;) {
        char* buffer = nullptr;
        int size = PQgetCopyData(conn.get(), &buffer, 1);
        if (size > 0) {
            data.append(buffer, size);
            PQfreemem(buffer);
        } else if (size == 0) {
            conn.wait_and_consume(soon());
        } else {
            break;
        }
    }
    PgResult end = conn.next_result(soon());
    REQUIRE(end);
    CHECK_MESSAGE(PQresultStatus(end.get()) == PGRES_COMMAND_OK, PQresultErrorMessage(end.get()));
    CHECK(!conn.next_result(soon()));
    return data;
}

// COPY ... FROM STDIN with `data` sent in chunks; returns the command tag.
std::string copy_in(PgConn& conn, const std::string& sql, const std::string& data) {
    PgResult started = conn.run_one(sql, soon(), PGRES_COPY_IN);
    const std::size_t chunk = 64 * 1024;
    for (std::size_t at = 0; at < data.size(); at += chunk) {
        std::size_t size = std::min(chunk, data.size() - at);
        REQUIRE(PQputCopyData(conn.get(), data.data() + at, static_cast<int>(size)) == 1);
    }
    REQUIRE(PQputCopyEnd(conn.get(), nullptr) == 1);
    while (PQflush(conn.get()) == 1)
        wait_for_socket(PQsocket(conn.get()), true, soon(), "COPY data to drain");
    PgResult end = conn.next_result(soon());
    REQUIRE(end);
    CHECK_MESSAGE(PQresultStatus(end.get()) == PGRES_COMMAND_OK, PQresultErrorMessage(end.get()));
    CHECK(!conn.next_result(soon()));
    return PQcmdStatus(end.get());
}

}  // namespace

TEST_CASE("PQcancel through a TLS client leg and a required-TLS upstream stops the query") {
    PgrevTls tls;
    tls.client_mode = "require";
    tls.upstream_mode = "require";
    auto pgrev = start_pgrev(tls);
    PgConn conn = connect_both_legs_tls(*pgrev);
    PgConn observer = PgConn::connect(direct_conninfo("postgres", "app", "require"), soon());
    std::string backend = conn.value("SELECT pg_backend_pid()", soon());
    REQUIRE(PQsendQuery(conn.get(), "SELECT pg_sleep(30)") == 1);
    Deadline deadline = soon();
    while (observer.value("SELECT count(*) FROM pg_stat_activity WHERE pid = " + backend +
                              " AND state = 'active' AND query LIKE '%pg_sleep%'",
                          soon()) != "1") {
        REQUIRE_MESSAGE(Clock::now() < deadline, "the sleep never started on the server");
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto started = Clock::now();
    PGcancel* cancel = PQgetCancel(conn.get());
    REQUIRE(cancel != nullptr);
    char error[256] = {};
    CHECK_MESSAGE(PQcancel(cancel, error, sizeof error) == 1, error);
    PQfreeCancel(cancel);
    PgResult result = conn.next_result(soon());
    REQUIRE(result);
    CHECK(std::string(PQresultErrorField(result.get(), PG_DIAG_SQLSTATE)) == "57014");
    CHECK(std::string(PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY)) ==
          "canceling statement due to user request");
    CHECK(Clock::now() - started < std::chrono::seconds(10));
    while (conn.next_result(soon())) {
    }
    CHECK(conn.value("SELECT 'after the cancel'", soon()) == "after the cancel");
    // libpq sends its CancelRequest in clear (to pgrev); pgrev forwards it over TLS.
    CHECK_MESSAGE(log_shows(*pgrev, "cancel request forwarded (TLS)"), pgrev->log_text());
}

TEST_CASE("COPY both ways over TLS on both legs gives what it gives directly") {
    auto pgrev = start_verifying_pgrev();
    PgConn admin = PgConn::connect(direct_conninfo("postgres", "app", "require"), soon());
    admin.run_one("CREATE TABLE tls_copy (id int PRIMARY KEY, payload text)", soon(),
                  PGRES_COMMAND_OK);
    admin.run_one("GRANT ALL ON tls_copy TO scramuser", soon(), PGRES_COMMAND_OK);
    std::string data;  // about 6 MB: many TLS records in both directions
    for (int i = 1; i <= 20000; ++i)
        data += std::to_string(i) + "\t" + std::string(300, static_cast<char>('a' + i % 26)) + "\n";

    PgConn conn = connect_both_legs_tls(*pgrev);
    CHECK(copy_in(conn, "COPY tls_copy FROM STDIN", data) == "COPY 20000");
    const std::string out_sql = "COPY (SELECT * FROM tls_copy ORDER BY id) TO STDOUT";
    CHECK_MESSAGE(copy_out(conn, out_sql) == data, "COPY TO through pgrev returns what went in");
    PgConn direct = PgConn::connect(direct_conninfo(kScram, "app", "verify-full"), soon());
    CHECK(copy_out(direct, out_sql) == data);
    // An audited table refuses COPY FROM (audit.allow.copy_from is off) over TLS as in clear.
    PgResult refused =
        conn.run_one("COPY reservation (name) FROM STDIN", soon(), PGRES_FATAL_ERROR);
    CHECK(std::string(PQresultErrorField(refused.get(), PG_DIAG_SQLSTATE)) == "0A000");
    CHECK(conn.value("SELECT count(*) FROM tls_copy", soon()) == "20000");
    admin.run_one("DROP TABLE tls_copy", soon(), PGRES_COMMAND_OK);
}

TEST_CASE("a 100 MB result over TLS on both legs arrives intact") {
    auto pgrev = start_verifying_pgrev();
    const std::string sql =
        "SELECT g, md5(g::text) || repeat(chr(65 + g % 26), 1000) FROM generate_series(1, 100000) "
        "g";
    PgConn conn = connect_both_legs_tls(*pgrev);
    Digest through_pgrev = digest_of(conn, sql);
    PgConn direct = PgConn::connect(direct_conninfo(kScram, "app", "verify-full"), soon());
    Digest straight = digest_of(direct, sql);
    CHECK(through_pgrev.rows == 100000);
    CHECK(through_pgrev.bytes > 100u * 1000 * 1000);
    CHECK_MESSAGE(through_pgrev == straight, "the digest through pgrev equals the direct one");
    CHECK(conn.value("SELECT 'after 100 MB'", soon()) == "after 100 MB");
}

TEST_CASE("60 clients at once through two TLS legs, each with its own audited write") {
    // SCRAM-PLUS run by pgrev, md5 and trust side by side; all sessions open at the same time.
    auto pgrev = start_verifying_pgrev();
    constexpr int kClients = 60;
    const std::vector<std::string> users = {kScram, TestRoles::kMd5User, TestRoles::kSuperuser};
    std::latch connected(kClients);
    std::mutex mutex;
    std::vector<std::string> failures;
    std::vector<std::thread> threads;
    for (int id = 0; id < kClients; ++id) {
        threads.emplace_back([&, id] {
            std::string failure;
            std::optional<PgConn> conn;
            try {
                conn.emplace(PgConn::connect(
                    conninfo(pgrev->port(), users[id % 3], "app", "verify-full"), long_soon()));
            } catch (const std::exception& error) {
                failure = error.what();
            }
            connected.arrive_and_wait();
            try {
                if (conn) {
                    std::string name = "'tls client " + std::to_string(id) + "'";
                    conn->run_one("BEGIN", long_soon(), PGRES_COMMAND_OK);
                    conn->run_one("INSERT INTO reservation (name, party) VALUES (" + name + ", 1)",
                                  long_soon(), PGRES_COMMAND_OK);
                    std::string revs = conn->value(
                        "SELECT count(*) FROM reservation_rev WHERE name = " + name, long_soon());
                    if (revs != "1") failure = "revisions: " + revs;
                    conn->run_one("ROLLBACK", long_soon(), PGRES_COMMAND_OK);
                    if (!client_ssl(*conn) || backend_ssl(*conn) != "t") failure = "not TLS";
                }
            } catch (const std::exception& error) {
                failure = error.what();
            }
            if (!failure.empty()) {
                std::lock_guard lock(mutex);
                failures.push_back(users[id % 3] + " #" + std::to_string(id) + ": " + failure);
            }
        });
    }
    for (std::thread& thread : threads)
        thread.join();
    CHECK_MESSAGE(failures.empty(), failures.size() << " failed, the first: "
                                                    << (failures.empty() ? "" : failures[0]));
    CHECK(pgrev->running());
}
