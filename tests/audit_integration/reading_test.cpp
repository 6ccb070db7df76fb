// pgrev must read a statement exactly as the server will (review findings): a client encoding
// whose characters can hide a backslash, a standard_conforming_strings change still in flight,
// and several statements in one Parse are refused rather than guessed at.
#include <doctest/doctest.h>

#include <string>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

// Deletes row 100002 in the server's reading, but hides the DELETE inside a string literal in
// a byte-by-byte reading with standard_conforming_strings off.
const std::string kBackslashTrick =
    "WITH s AS (SELECT 'a\\'\n' AS c), e AS (DELETE FROM reservation WHERE id = 100002 "
    "RETURNING 1) SELECT 1 /*'\nAS c) SELECT 2 --*/";

long row_count(PgConn& direct, const std::string& id) {
    return count(direct, "SELECT count(*) FROM reservation WHERE id = " + id);
}

}  // namespace

TEST_CASE("text in a client encoding that can hide a backslash is refused, not misread") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    long revs = count(direct, "SELECT count(*) FROM reservation_rev");
    PgConn app = PgConn::connect(TestEnv::get().proxied("postgres", "app", "client_encoding=SJIS"),
                                 deadline_in(std::chrono::seconds(10)));
    // 0x81 0x5C is one SJIS character; read as bytes, 0x5C escapes the quote after it.
    std::string sql =
        "WITH s AS (SELECT E'\xC3\x81\x5C' AS c), e AS (DELETE FROM reservation WHERE id = "
        "100003 RETURNING 1) SELECT 1 /*' AS c) SELECT 2 --*/";
    Outcome o = simple(app, sql);
    CHECK(o.sqlstate == "0A000");
    CHECK(o.message.find("client_encoding is SJIS") != std::string::npos);
    CHECK(row_count(direct, "100003") == 1);
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
    // Plain ASCII statements in that encoding are audited as usual.
    CHECK(simple(app, "BEGIN").ok());
    CHECK(simple(app, "UPDATE reservation SET party = party WHERE id = 100003").tag == "UPDATE 1");
    CHECK(simple(app, "ROLLBACK").ok());
}

TEST_CASE("a standard_conforming_strings change in the same pipeline is not guessed at") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    long revs = count(direct, "SELECT count(*) FROM reservation_rev");
    PgConn app = connect_proxied();
    REQUIRE(PQenterPipelineMode(app.get()) == 1);
    REQUIRE(PQsendQueryParams(app.get(), "SET standard_conforming_strings = off", 0, nullptr,
                              nullptr, nullptr, nullptr, 0) == 1);
    REQUIRE(PQsendQueryParams(app.get(), kBackslashTrick.c_str(), 0, nullptr, nullptr, nullptr,
                              nullptr, 0) == 1);
    REQUIRE(PQpipelineSync(app.get()) == 1);
    Deadline soon = deadline_in(std::chrono::seconds(10));
    PgResult set = app.next_result(soon);
    CHECK(PQresultStatus(set.get()) == PGRES_COMMAND_OK);
    while (app.next_result(soon)) {
    }
    PgResult trick = app.next_result(soon);
    REQUIRE(trick);
    CHECK(PQresultStatus(trick.get()) == PGRES_FATAL_ERROR);
    CHECK(
        std::string(PQresultErrorField(trick.get(), PG_DIAG_MESSAGE_PRIMARY)).rfind("pgrev: ", 0) ==
        0);
    while (app.next_result(soon)) {
    }
    PgResult sync = app.next_result(soon);
    CHECK(PQresultStatus(sync.get()) == PGRES_PIPELINE_SYNC);
    CHECK(PQexitPipelineMode(app.get()) == 1);
    CHECK(row_count(direct, "100002") == 1);
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revs);
}

TEST_CASE("several statements in one Parse are refused in PostgreSQL's words") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    const char* sql = "UPDATE reservation SET party = 1 WHERE id = 100001; SELECT 1";
    Outcome seen[2] = {prepare_now(direct, "two", sql), prepare_now(app, "two", sql)};
    CHECK(seen[0].sqlstate == "42601");
    CHECK(seen[1].sqlstate == seen[0].sqlstate);
    CHECK(seen[1].message == seen[0].message);
}

// pgrev's refusals are raised by a DO block on the server; the client sees no PL/pgSQL
// context or source location of it, in either protocol.
TEST_CASE("a refusal carries no PL/pgSQL context") {
    if (skip_without_pgrev()) return;
    PgConn app = connect_proxied();
    PgResult simple_result(PQexec(app.get(), "TRUNCATE reservation"));
    CHECK(std::string(PQresultErrorField(simple_result.get(), PG_DIAG_SQLSTATE)) == "0A000");
    CHECK(PQresultErrorField(simple_result.get(), PG_DIAG_CONTEXT) == nullptr);
    CHECK(PQresultErrorField(simple_result.get(), PG_DIAG_SOURCE_FILE) == nullptr);
    PgResult extended(
        PQexecParams(app.get(), "TRUNCATE reservation", 0, nullptr, nullptr, nullptr, nullptr, 0));
    CHECK(std::string(PQresultErrorField(extended.get(), PG_DIAG_SQLSTATE)) == "0A000");
    CHECK(PQresultErrorField(extended.get(), PG_DIAG_CONTEXT) == nullptr);
    // An ordinary error keeps everything the server said.
    PgResult ordinary(PQexec(app.get(), "DO $$BEGIN RAISE EXCEPTION 'mine'; END$$"));
    CHECK(PQresultErrorField(ordinary.get(), PG_DIAG_CONTEXT) != nullptr);
}
