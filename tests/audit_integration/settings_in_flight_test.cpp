// Settings that change how a text reads, changed by something pgrev cannot see in the text
// (issue 7, items 2 and 13): a DO block, an UPDATE of pg_settings, a COMMIT that ends a SET
// LOCAL. pgrev must read a statement under the settings the server applies to it (what the
// server reports), or wait for them, or refuse: never let an audited change through unaudited.
// And a pipelined COPY must not deadlock with such a wait.
#include <doctest/doctest.h>

#include <thread>

#include "audit_support.h"
#include "frontend_builder.h"
#include "raw_exchange.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

// With standard_conforming_strings on, the UPDATE is inside a string literal; with it off, the
// backslash escapes the quote and the UPDATE runs (the rest is a comment).
const std::string kHiddenUpdate =
    "WITH s AS (SELECT 'a\\'\n' AS c), e AS (UPDATE reservation SET party = 77 WHERE id = "
    "100002 RETURNING 1) SELECT 1 /*'\nAS c) SELECT 2 --*/";

struct RowState {
    std::vector<std::string> row;
    long revisions = 0;
};

RowState row_state(PgConn& direct) {
    return {rows(direct, "SELECT r::text FROM reservation r WHERE id = 100002"),
            count(direct, "SELECT count(*) FROM reservation_rev WHERE id = 100002")};
}

// Either nothing changed (refused, or read as the server read it: no UPDATE), or the change
// has its revision, equal to the row.
void expect_audited_or_unchanged(PgConn& direct, const RowState& before) {
    RowState after = row_state(direct);
    if (after.row == before.row) {
        CHECK_MESSAGE(after.revisions == before.revisions, "revisions without a change");
        return;
    }
    CHECK_MESSAGE(after.revisions == before.revisions + 1, "a change without its revision");
    CHECK(rows(direct,
               "SELECT party FROM reservation_rev WHERE id = 100002 ORDER BY rev_created DESC "
               "LIMIT 1") == rows(direct, "SELECT party FROM reservation WHERE id = 100002"));
}

void reset_row() {
    PgConn direct = connect_direct();
    exec(direct, "UPDATE reservation SET party = 3 WHERE id = 100002");
}

// One libpq pipeline: SET standard_conforming_strings = off, then `sql`, then Sync; every
// result goes into the transcript.
void pipelined_behind_scs_off(PgConn& c, Transcript& t, const char* sql) {
    REQUIRE(PQenterPipelineMode(c.get()) == 1);
    PQsendQueryParams(c.get(), "SET standard_conforming_strings = off", 0, nullptr, nullptr,
                      nullptr, nullptr, 0);
    PQsendQueryParams(c.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, 0);
    PQpipelineSync(c.get());
    for (int item = 0; item < 3; ++item) {
        PgResult r = c.next_result(soon());
        if (!r) {
            t.note("(no result)");
            continue;
        }
        t.result("item", r.get());
        if (PQresultStatus(r.get()) != PGRES_PIPELINE_SYNC) t.rest_of_command("", soon());
    }
    PQexitPipelineMode(c.get());
}

}  // namespace

TEST_CASE("a settings change hidden from the text, pipelined as simple Queries") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    reset_row();
    struct Case {
        const char* story;
        std::vector<std::string> before;  // sent and answered first
        std::vector<std::string> pipeline;
    };
    const Case cases[] = {
        {"a DO block that builds the SET",
         {},
         {"DO $$BEGIN EXECUTE 'SET standard_' || 'conforming_strings = off'; END$$"}},
        {"an UPDATE of pg_settings",
         {},
         {"UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'"}},
        {"a COMMIT that ends SET LOCAL",
         {"SET standard_conforming_strings = off"},
         {"BEGIN; SET LOCAL standard_conforming_strings = on", "COMMIT"}},
    };
    for (const Case& c : cases) {
        SUBCASE(c.story) {
            PgConn direct = connect_direct();
            RowState before = row_state(direct);
            RawClient client = login(TestEnv::get().proxy_port());
            for (const std::string& sql : c.before) {
                std::string answer = pipelined(client, query_message(sql), 1, soon());
                REQUIRE(answer.find("(timed out") == std::string::npos);
            }
            std::string bytes;
            for (const std::string& sql : c.pipeline)
                bytes += query_message(sql);
            bytes += query_message(kHiddenUpdate);
            std::string answer =
                pipelined(client, bytes, static_cast<int>(c.pipeline.size()) + 1, soon());
            INFO(answer);
            CHECK(answer.find("(timed out") == std::string::npos);
            // pgrev cannot read a backslash with standard_conforming_strings off: it refuses.
            CHECK(answer.find("E 0A000 pgrev: ") != std::string::npos);
            expect_audited_or_unchanged(direct, before);
            reset_row();
        }
    }
}

TEST_CASE("a settings change hidden from the text, in a libpq pipeline") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    reset_row();
    const char* const hiders[] = {
        "DO $$BEGIN EXECUTE 'SET standard_' || 'conforming_strings = off'; END$$",
        "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
    };
    for (const char* hider : hiders) {
        for (bool sync_between : {false, true}) {
            SUBCASE((std::string(hider).substr(0, 12) + (sync_between ? ", Sync between" : ""))
                        .c_str()) {
                PgConn direct = connect_direct();
                RowState before = row_state(direct);
                PgConn app = connect_proxied();
                REQUIRE(PQenterPipelineMode(app.get()) == 1);
                REQUIRE(PQsendQueryParams(app.get(), hider, 0, nullptr, nullptr, nullptr, nullptr,
                                          0) == 1);
                if (sync_between) REQUIRE(PQpipelineSync(app.get()) == 1);
                REQUIRE(PQsendQueryParams(app.get(), kHiddenUpdate.c_str(), 0, nullptr, nullptr,
                                          nullptr, nullptr, 0) == 1);
                REQUIRE(PQpipelineSync(app.get()) == 1);
                PgResult first = app.next_result(soon());
                CHECK(PQresultStatus(first.get()) == PGRES_COMMAND_OK);
                while (app.next_result(soon())) {
                }
                if (sync_between) {
                    PgResult sync = app.next_result(soon());
                    CHECK(PQresultStatus(sync.get()) == PGRES_PIPELINE_SYNC);
                }
                PgResult hidden = app.next_result(soon());
                REQUIRE(hidden);
                CHECK(PQresultStatus(hidden.get()) == PGRES_FATAL_ERROR);
                const char* message = PQresultErrorField(hidden.get(), PG_DIAG_MESSAGE_PRIMARY);
                CHECK(std::string(message ? message : "").rfind("pgrev: ", 0) == 0);
                while (app.next_result(soon())) {
                }
                PgResult sync = app.next_result(soon());
                CHECK(PQresultStatus(sync.get()) == PGRES_PIPELINE_SYNC);
                CHECK(PQexitPipelineMode(app.get()) == 1);
                expect_audited_or_unchanged(direct, before);
                reset_row();
            }
        }
    }
}

// What the client sees when nothing needs to wait: like PostgreSQL, and audited.
TEST_CASE("texts that read the same under any settings are not held back") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        // One Query is lexed whole under the settings before it, by the server and by pgrev.
        queries("a DO block changing the setting, then the hidden UPDATE in the same Query",
                {"DO $$BEGIN EXECUTE 'SET standard_' || 'conforming_strings = off'; END$$; " +
                 kHiddenUpdate},
                0),
        {"a plain UPDATE pipelined behind SET standard_conforming_strings = off",
         [](PgConn& c, Transcript& t) {
             pipelined_behind_scs_off(c, t,
                                      "UPDATE reservation SET party = 9 WHERE id = 100001 "
                                      "RETURNING id, party");
             t.query("SET standard_conforming_strings = on", soon());
         },
         1},
        // A backslash outside a '...' literal means the same under either setting: in an E''
        // string, a dollar quote, a U&"" name. Such a statement is read at once too, and with
        // the setting off it is audited, not refused.
        {"backslashes in E'', dollar quotes and U&\"\" names behind SET "
         "standard_conforming_strings",
         [](PgConn& c, Transcript& t) {
             pipelined_behind_scs_off(c, t,
                                      "UPDATE U&\"\\0072eservation\" SET name = E'it\\'s' || "
                                      "$$\\$$ WHERE id = 100001 RETURNING id, name");
             t.query("UPDATE reservation SET name = E'again\\\\' WHERE id = 100002", soon());
             t.query("SET standard_conforming_strings = on", soon());
         },
         2},
    });
}

// Item 13: SET client_encoding and COPY FROM STDIN in one Query, then a Query pgrev must wait
// for (non-ASCII, naming the audited table). PostgreSQL in copy-in reads that Query as
// "unexpected message type 0x51 during COPY from stdin", fails the COPY and discards it.
TEST_CASE("a Query held for settings behind a COPY FROM STDIN gets PostgreSQL's answer") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    std::string before = contents(direct, "reservation");
    long revisions = count(direct, "SELECT count(*) FROM reservation_rev");
    std::string bytes =
        query_message("SET client_encoding TO 'UTF8'; COPY dinner_slot FROM STDIN") +
        query_message("UPDATE reservation SET name = 'Zo\xC3\xAB' WHERE id = 100001");
    auto run = [&](std::uint16_t port) {
        RawClient client = login(port);
        std::string answer = pipelined(client, bytes, 1, deadline_in(std::chrono::seconds(5)));
        // The session goes on as usual.
        answer += pipelined(client, query_message("SELECT 1"), 1, soon());
        return answer;
    };
    std::string direct_answer = run(TestEnv::get().cluster().port());
    CHECK(direct_answer.find("unexpected message type 0x51") != std::string::npos);
    CHECK(run(TestEnv::get().proxy_port()) == direct_answer);
    CHECK(contents(direct, "reservation") == before);
    CHECK(count(direct, "SELECT count(*) FROM reservation_rev") == revisions);
}

TEST_CASE("a Parse held for settings behind an extended-protocol COPY FROM STDIN") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    std::string before = contents(direct, "reservation");
    auto statement = [](const std::string& sql) {
        return fe::parse("", sql) + fe::bind("", "") + fe::execute("") + fe::sync();
    };
    std::string bytes = statement("SET client_encoding TO 'UTF8'") +
                        statement("COPY dinner_slot FROM STDIN") +
                        statement("UPDATE reservation SET name = 'Zo\xC3\xAB' WHERE id = 100001");
    auto run = [&](std::uint16_t port) {
        RawClient client = login(port);
        // The server ignores the COPY's Sync, fails the COPY at the Parse and skips to the last
        // Sync: two ReadyForQuery in all.
        std::string answer = pipelined(client, bytes, 2, deadline_in(std::chrono::seconds(5)));
        return answer + pipelined(client, fe::query("SELECT 1"), 1, soon());
    };
    std::string direct_answer = run(TestEnv::get().cluster().port());
    CHECK(direct_answer.find("unexpected message type 0x50") != std::string::npos);
    CHECK(run(TestEnv::get().proxy_port()) == direct_answer);
    CHECK(contents(direct, "reservation") == before);
}

TEST_CASE("a client gone while pgrev holds its Query behind a COPY frees its backend") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    const char* marker = "COPY dinner_slot FROM STDIN /* item13 gone */";
    {
        RawClient client = login(TestEnv::get().proxy_port());
        client.send_all(query_message(std::string("SET client_encoding TO 'UTF8'; ") + marker) +
                        query_message("UPDATE reservation SET name = 'Zo\xC3\xAB' WHERE id = "
                                      "100001"));
        auto copy_in = client.read_message(soon());
        while (copy_in && copy_in->type != 'G')
            copy_in = client.read_message(soon());
        REQUIRE(copy_in);
    }  // the client disconnects
    PgConn direct = connect_direct();
    std::string backends = std::string(
        "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%item13 gone%' "
        "AND pid <> pg_backend_pid()");
    Deadline deadline = deadline_in(std::chrono::seconds(5));
    while (count(direct, backends) > 0 && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK(count(direct, backends) == 0);
    exec(direct,
         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE "
         "'%item13 gone%' AND pid <> pg_backend_pid()");
}

TEST_CASE("a client gone while pgrev holds its statement ends the session at once") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    std::string before = contents(direct, "reservation");
    {
        RawClient client = login(TestEnv::get().proxy_port());
        client.send_all(query_message("SELECT pg_sleep(1.5) /* item13 held */") +
                        query_message("UPDATE reservation SET name = 'Zo\xC3\xAB' WHERE id = "
                                      "100001"));
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }  // gone before any answer: nobody can be told what the held statement did
    std::this_thread::sleep_for(std::chrono::seconds(2));
    // The held statement was never sent: the upstream connection was closed at once, and the
    // backend ended after its sleep without reading more.
    CHECK(count(direct,
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                "'%item13 held%' AND pid <> pg_backend_pid()") == 0);
    CHECK(contents(direct, "reservation") == before);
    exec(direct, "UPDATE reservation SET name = 'Steve' WHERE id = 100001");
}
