// Big things through pgrev: values of tens of megabytes in both directions, large objects
// (which libpq moves with the FunctionCall message), and a client that stops reading for a
// while in the middle of a large result.
#include <doctest/doctest.h>

#include <libpq/libpq-fs.h>

#include <thread>

#include "differential.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(30));
}

}  // namespace

TEST_CASE("values of tens of megabytes pass through pgrev in both directions") {
    expect_transparent("large values", [](PgConn& c, Transcript& t) {
        t.query("SELECT length(v), md5(v) FROM (SELECT repeat('0123456789', 2000000) AS v) s",
                soon());
        PgResult big = c.run_one("SELECT repeat('0123456789', 2000000)", soon());
        std::string expected;
        for (int i = 0; i < 2000000; ++i)
            expected += "0123456789";
        t.note(std::string("20 MB value intact: ") +
               (PQgetlength(big.get(), 0, 0) == static_cast<int>(expected.size()) &&
                        PQgetvalue(big.get(), 0, 0) == expected
                    ? "yes"
                    : "no"));
        std::string param(10 * 1000 * 1000, 'p');
        for (std::size_t i = 0; i < param.size(); i += 997)
            param[i] = 'q';
        const char* values[] = {param.c_str()};
        if (PQsendQueryParams(c.get(), "SELECT length($1::text), md5($1::text)", 1, nullptr, values,
                              nullptr, nullptr, 0)) {
            t.rest_of_command("10 MB parameter", soon());
        }
        t.query("SELECT length('" + std::string(1000 * 1000, 'l') + "') AS one_megabyte_query",
                soon());
    });
}

TEST_CASE("large objects (FunctionCall under libpq's lo_* API) work through pgrev") {
    expect_transparent("large objects", [](PgConn& c, Transcript& t) {
        t.query("BEGIN", soon());
        Oid object = lo_creat(c.get(), INV_READ | INV_WRITE);
        t.note(std::string("lo_creat: ") + (object != InvalidOid ? "an oid" : c.error_message()));
        int fd = lo_open(c.get(), object, INV_READ | INV_WRITE);
        t.note("lo_open: " + std::to_string(fd));
        std::string data;
        for (int i = 0; i < 100000; ++i)
            data += std::to_string(i % 10);
        t.note("lo_write: " + std::to_string(lo_write(c.get(), fd, data.data(), data.size())));
        t.note("lo_lseek: " + std::to_string(lo_lseek(c.get(), fd, 50000, SEEK_SET)));
        std::string back(20, '\0');
        int read = lo_read(c.get(), fd, back.data(), back.size());
        t.note("lo_read: " + std::to_string(read) + " '" + back.substr(0, read > 0 ? read : 0) +
               "'");
        t.note("lo_tell: " + std::to_string(lo_tell(c.get(), fd)));
        t.note("lo_close: " + std::to_string(lo_close(c.get(), fd)));
        t.note("lo_unlink: " + std::to_string(lo_unlink(c.get(), object)));
        int failed = lo_read(c.get(), fd, back.data(), 1);
        t.note("lo_read on a closed descriptor: " + std::to_string(failed) + " " +
               c.error_message());
        t.query("ROLLBACK", soon());
        t.query("SELECT 'in step after large objects'", soon());
    });
}

TEST_CASE("a client that pauses reading in the middle of a large result gets all of it") {
    TestEnv& env = TestEnv::get();
    PgConn conn = PgConn::connect(env.proxied(), soon());
    REQUIRE(PQsendQuery(conn.get(),
                        "SELECT g, repeat('r', 1000) FROM generate_series(1, 30000) g") == 1);
    std::this_thread::sleep_for(std::chrono::seconds(1));  // pgrev must hold back, not drop
    PgResult result = conn.next_result(soon());
    REQUIRE(result);
    REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
    CHECK(PQntuples(result.get()) == 30000);
    CHECK(std::string(PQgetvalue(result.get(), 29999, 0)) == "30000");
    CHECK(!conn.next_result(soon()));
    CHECK(conn.value("SELECT 'after the pause'", soon()) == "after the pause");
}
