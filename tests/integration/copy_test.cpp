// COPY through pgrev in both directions: the data a client streams in arrives intact,
// the data it streams out is byte for byte what PostgreSQL sends, and COPY errors and
// client-side aborts end the same way.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "differential.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(20));
}

// Sends `sql` (a COPY ... FROM STDIN), streams `chunks`, ends the copy (with
// `abort_reason` as a client-side failure when given) and records every result.
// With `extended`, the COPY is sent with Parse/Bind/Execute instead of a Query.
void copy_in(PgConn& c, Transcript& t, const std::string& sql,
             const std::vector<std::string>& chunks, const char* abort_reason = nullptr,
             bool extended = false) {
    t.note("> " + sql + " (" + std::to_string(chunks.size()) + " chunks)");
    int sent =
        extended ? PQsendQueryParams(c.get(), sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)
                 : PQsendQuery(c.get(), sql.c_str());
    if (!sent) {
        t.note("send failed");
        return;
    }
    PgResult start = c.next_result(soon());
    t.result("  start", start.get());
    if (PQresultStatus(start.get()) != PGRES_COPY_IN) {
        t.rest_of_command("  result", soon());
        return;
    }
    for (const std::string& chunk : chunks) {
        if (PQputCopyData(c.get(), chunk.data(), static_cast<int>(chunk.size())) != 1) {
            t.note("  PQputCopyData failed: " + c.error_message());
            break;
        }
    }
    if (PQputCopyEnd(c.get(), abort_reason) != 1) t.note("  PQputCopyEnd failed");
    t.rest_of_command("  result", soon());
    t.transaction_status();
}

// Runs a COPY ... TO STDOUT and returns the data; results and a summary go to `t`.
std::string copy_out(PgConn& c, Transcript& t, const std::string& sql) {
    t.note("> " + sql);
    std::string data;
    if (!PQsendQuery(c.get(), sql.c_str())) return data;
    for (;;) {
        PgResult result = c.next_result(soon());
        if (!result) break;
        t.result("  result", result.get());
        if (PQresultStatus(result.get()) != PGRES_COPY_OUT) continue;
        int rows = 0;
        for (;;) {
            char* buffer = nullptr;
            int length = PQgetCopyData(c.get(), &buffer, 1);
            if (length > 0) {
                data.append(buffer, static_cast<std::size_t>(length));
                ++rows;
                PQfreemem(buffer);
            } else if (length == 0) {
                c.wait_and_consume(soon());
            } else {
                break;  // -1: done (the final result follows), -2: error
            }
        }
        t.note("  copy data: " + std::to_string(rows) + " messages, " +
               std::to_string(data.size()) + " bytes");
    }
    return data;
}

std::string rows_text(int from, int to) {
    std::string text;
    for (int i = from; i <= to; ++i) {
        text += std::to_string(i) + "\tname " + std::to_string(i) + "\t" +
                (i % 7 == 0 ? "\\N" : std::to_string(i) + ".25") + "\n";
    }
    return text;
}

}  // namespace

TEST_CASE("COPY FROM STDIN and COPY TO STDOUT move the same data through pgrev") {
    expect_transparent("COPY both ways", [](PgConn& c, Transcript& t) {
        t.query("CREATE TEMP TABLE copy_t (id int PRIMARY KEY, name text, score float8)", soon());
        copy_in(c, t, "COPY copy_t FROM STDIN", {rows_text(1, 10), rows_text(11, 20)});
        // Rows split across CopyData messages at arbitrary points.
        std::string more = rows_text(21, 40);
        std::vector<std::string> pieces;
        for (std::size_t at = 0; at < more.size(); at += 7)
            pieces.push_back(more.substr(at, 7));
        copy_in(c, t, "COPY copy_t FROM STDIN", pieces);
        copy_in(c, t, "COPY copy_t (id, name) FROM STDIN WITH (FORMAT csv, HEADER true)",
                {"id,name\n", "100,\"quoted, with comma\"\n101,\"multi\nline\"\n"});
        t.note("text: " + copy_out(c, t, "COPY copy_t TO STDOUT"));
        t.note("csv: " + copy_out(c, t,
                                  "COPY (SELECT * FROM copy_t ORDER BY id DESC) TO STDOUT "
                                  "WITH (FORMAT csv, HEADER true)"));
        std::string binary = copy_out(c, t, "COPY copy_t TO STDOUT WITH (FORMAT binary)");
        t.note("binary bytes: " + std::to_string(binary.size()) +
               ", header ok: " + (binary.rfind("PGCOPY\n\xff\r\n", 0) == 0 ? "yes" : "no"));
        t.query("SELECT count(*), sum(id), md5(string_agg(name, ',' ORDER BY id)) FROM copy_t",
                soon());
    });
}

TEST_CASE("a bad row in COPY FROM gives the same error through pgrev and the session goes on") {
    expect_transparent("COPY FROM with a bad row", [](PgConn& c, Transcript& t) {
        t.query("CREATE TEMP TABLE copy_bad (id int, n int NOT NULL)", soon());
        copy_in(c, t, "COPY copy_bad FROM STDIN", {"1\t1\n2\tnot_a_number\n3\t3\n"});
        copy_in(c, t, "COPY copy_bad FROM STDIN", {"1\t1\n2\t\\N\n"});
        copy_in(c, t, "COPY copy_bad FROM STDIN", {"1\t1\t1\n"});
        copy_in(c, t, "COPY copy_bad FROM STDIN WITH (FORMAT binary)", {"not a binary header"});
        copy_in(c, t, "COPY no_such_table FROM STDIN", {});
        t.query("SELECT count(*) FROM copy_bad", soon());
    });
}

TEST_CASE("a client that aborts COPY FROM gets the same error through pgrev") {
    expect_transparent("COPY FROM aborted by PQputCopyEnd", [](PgConn& c, Transcript& t) {
        t.query("CREATE TEMP TABLE copy_abort (v int)", soon());
        copy_in(c, t, "COPY copy_abort FROM STDIN", {"1\n2\n"}, "the client changed its mind");
        t.query("BEGIN", soon());
        copy_in(c, t, "COPY copy_abort FROM STDIN", {"3\n"}, "abort inside a transaction");
        t.query("SELECT 1", soon());
        t.query("ROLLBACK", soon());
        t.query("SELECT count(*) FROM copy_abort", soon());
    });
}

TEST_CASE("a large COPY streams through pgrev without loss") {
    expect_transparent("COPY of 100000 rows", [](PgConn& c, Transcript& t) {
        t.query("CREATE TEMP TABLE copy_big (id int, name text, score float8)", soon());
        std::vector<std::string> chunks;
        for (int from = 1; from <= 100000; from += 1000)
            chunks.push_back(rows_text(from, from + 999));
        copy_in(c, t, "COPY copy_big FROM STDIN", chunks);
        t.query(
            "SELECT count(*), sum(id), md5(string_agg(name || score, ',' ORDER BY id)) "
            "FROM copy_big",
            soon());
        std::string out = copy_out(c, t, "COPY copy_big TO STDOUT");
        std::string expected;
        for (const std::string& chunk : chunks)
            expected += chunk;
        t.note(std::string("round trip identical: ") + (out == expected ? "yes" : "no"));
    });
}

TEST_CASE("COPY FROM STDIN followed by more statements, and COPY in the extended protocol") {
    expect_transparent(
        "COPY FROM in a multi-statement Query and via Parse/Bind/Execute",
        [](PgConn& c, Transcript& t) {
            t.query("CREATE TEMP TABLE copy_mix (v int)", soon());
            copy_in(c, t,
                    "COPY copy_mix FROM STDIN; SELECT count(*) FROM copy_mix; "
                    "SELECT 'third statement'",
                    {"1\n2\n3\n"});
            copy_in(c, t, "COPY copy_mix FROM STDIN", {"4\n5\n"}, nullptr, true);
            copy_in(c, t, "COPY copy_mix FROM STDIN", {"x\n"}, nullptr, true);
            t.note("COPY TO: " +
                   copy_out(c, t, "COPY (SELECT v FROM copy_mix ORDER BY v) TO STDOUT"));
            t.query("SELECT sum(v) FROM copy_mix", soon());
        });
}

TEST_CASE("an error in the middle of COPY TO STDOUT ends it the same way through pgrev") {
    expect_transparent("COPY TO with a failing row", [](PgConn& c, Transcript& t) {
        t.note("data: " +
               copy_out(c, t, "COPY (SELECT 10 / (5 - g) FROM generate_series(1, 8) g) TO STDOUT"));
        t.query("SELECT 'after the failed COPY'", soon());
    });
}

TEST_CASE("COPY TO STDOUT inside a multi-statement Query is followed by the other results") {
    expect_transparent("COPY in a multi-statement Query", [](PgConn& c, Transcript& t) {
        t.note("data: " + copy_out(c, t,
                                   "SELECT 1 AS before; COPY (VALUES (1, 'a'), (2, 'b')) "
                                   "TO STDOUT; SELECT 2 AS after"));
        t.query("SELECT 'session still in step' AS check", soon());
    });
}
