// Extended Query protocol (Parse/Bind/Describe/Execute/Sync) as libpq drives it: named and
// unnamed statements, parameters and results in text and binary, describe, single-row
// mode, errors. Everything compared with the same calls made directly.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>

#include "differential.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

constexpr Oid kInt4 = 23;
constexpr Oid kText = 25;

Deadline soon() {
    return deadline_in(std::chrono::seconds(10));
}

// PQexecParams/PQexecPrepared/PQprepare/PQdescribe* in their asynchronous form, so every
// wait has a deadline; `send_ok` is what the PQsend* call returned.
void record_command(PgConn& conn, Transcript& t, const std::string& label, int send_ok) {
    if (!send_ok) {
        t.note(label + ": send failed: " + conn.error_message());
        return;
    }
    t.rest_of_command(label, soon());
    t.transaction_status();
}

void describe_statement(PgConn& conn, Transcript& t, const char* name) {
    if (!PQsendDescribePrepared(conn.get(), name)) {
        t.note("describe failed to send");
        return;
    }
    while (PgResult result = conn.next_result(soon())) {
        std::string params = "describe statement " + std::string(name) + ": params";
        for (int i = 0; i < PQnparams(result.get()); ++i) {
            params += " " + std::to_string(PQparamtype(result.get(), i));
        }
        t.note(params);
        t.result("  description", result.get());
    }
}

}  // namespace

TEST_CASE("named prepared statements work through pgrev as directly") {
    expect_transparent("PQprepare / PQexecPrepared / PQdescribePrepared", [](PgConn& c,
                                                                             Transcript& t) {
        t.query("CREATE TEMP TABLE ext_items (id int PRIMARY KEY, name text, price numeric)",
                soon());
        Oid types[] = {kInt4, kText, 0};
        record_command(c, t, "prepare insert",
                       PQsendPrepare(c.get(), "ins",
                                     "INSERT INTO ext_items VALUES ($1, $2, $3) RETURNING id, "
                                     "upper(name) AS shout, price * 2 AS double_price",
                                     3, types));
        record_command(c, t, "prepare select",
                       PQsendPrepare(c.get(), "by_price",
                                     "SELECT id, name FROM ext_items WHERE price > $1 ORDER BY id",
                                     1, nullptr));
        describe_statement(c, t, "ins");
        describe_statement(c, t, "by_price");
        for (int i = 1; i <= 5; ++i) {
            std::string id = std::to_string(i);
            std::string name = "item " + id;
            std::string price = std::to_string(i * 10) + ".5";
            const char* values[] = {id.c_str(), name.c_str(), i == 3 ? nullptr : price.c_str()};
            record_command(c, t, "insert " + id,
                           PQsendQueryPrepared(c.get(), "ins", 3, values, nullptr, nullptr, 0));
        }
        const char* duplicate[] = {"1", "again", "1"};
        record_command(c, t, "duplicate key",
                       PQsendQueryPrepared(c.get(), "ins", 3, duplicate, nullptr, nullptr, 0));
        const char* bad_number[] = {"not a number"};
        record_command(
            c, t, "bad parameter",
            PQsendQueryPrepared(c.get(), "by_price", 1, bad_number, nullptr, nullptr, 0));
        const char* threshold[] = {"25"};
        record_command(c, t, "select",
                       PQsendQueryPrepared(c.get(), "by_price", 1, threshold, nullptr, nullptr, 0));
        record_command(c, t, "prepare again under the same name",
                       PQsendPrepare(c.get(), "ins", "SELECT 1", 0, nullptr));
        record_command(c, t, "prepare a syntax error",
                       PQsendPrepare(c.get(), "broken", "SELEC 1", 0, nullptr));
        record_command(c, t, "execute unknown statement",
                       PQsendQueryPrepared(c.get(), "nope", 0, nullptr, nullptr, nullptr, 0));
        record_command(c, t, "wrong number of parameters",
                       PQsendQueryPrepared(c.get(), "by_price", 0, nullptr, nullptr, nullptr, 0));
        t.query("DEALLOCATE by_price", soon());
        record_command(c, t, "execute deallocated",
                       PQsendQueryPrepared(c.get(), "by_price", 1, threshold, nullptr, nullptr, 0));
        t.query("SELECT name FROM pg_prepared_statements ORDER BY name", soon());
    });
}

TEST_CASE("parameters and results in binary format pass through pgrev unchanged") {
    expect_transparent("PQexecParams with binary parameters and results", [](PgConn& c,
                                                                             Transcript& t) {
        std::uint32_t network_int = htonl(123456);
        const char binary_bytes[] = {'\0', '\x01', '\xff', '\0'};
        const char* values[] = {reinterpret_cast<const char*>(&network_int), binary_bytes,
                                "text param", nullptr};
        int lengths[] = {4, 4, 0, 0};
        int formats[] = {1, 1, 0, 0};
        Oid types[] = {kInt4, 17, kText, kInt4};
        const char* sql =
            "SELECT $1::int4 AS i, $2::bytea AS b, $3::text AS t, $4::int4 AS n, "
            "42::int8 AS big, 1.25::float8 AS f, 12.345::numeric AS num, true AS yes, "
            "'2024-01-02 03:04:05'::timestamp AS ts, ARRAY[1,2,3] AS arr, "
            "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '{\"k\": 1}'::jsonb AS j";
        record_command(c, t, "binary results",
                       PQsendQueryParams(c.get(), sql, 4, types, values, lengths, formats, 1));
        record_command(c, t, "text results",
                       PQsendQueryParams(c.get(), sql, 4, types, values, lengths, formats, 0));
        record_command(c, t, "unknown-typed parameter",
                       PQsendQueryParams(c.get(), "SELECT $1 AS untyped", 1, nullptr, values + 2,
                                         nullptr, nullptr, 0));
        record_command(c, t, "ambiguous operator",
                       PQsendQueryParams(c.get(), "SELECT $1 + $2", 2, nullptr, values + 2, nullptr,
                                         nullptr, 0));
        const char* wrong_binary[] = {"xy"};
        int short_length[] = {2};
        int binary[] = {1};
        Oid int4_type[] = {kInt4};
        record_command(c, t, "malformed binary parameter",
                       PQsendQueryParams(c.get(), "SELECT $1::int4", 1, int4_type, wrong_binary,
                                         short_length, binary, 0));
        record_command(c, t, "no rows",
                       PQsendQueryParams(c.get(), "SELECT 1 WHERE false", 0, nullptr, nullptr,
                                         nullptr, nullptr, 1));
        record_command(c, t, "a command without rows",
                       PQsendQueryParams(c.get(), "CREATE TEMP TABLE ext_bin (v int)", 0, nullptr,
                                         nullptr, nullptr, nullptr, 0));
        record_command(c, t, "empty statement",
                       PQsendQueryParams(c.get(), "", 0, nullptr, nullptr, nullptr, nullptr, 0));
    });
}

TEST_CASE("portals: describe a cursor and fetch it in parts through pgrev") {
    expect_transparent("PQdescribePortal on a cursor", [](PgConn& c, Transcript& t) {
        t.query("BEGIN", soon());
        t.query(
            "DECLARE ext_cur CURSOR FOR SELECT g AS n, g * g AS square FROM "
            "generate_series(1, 7) g",
            soon());
        if (PQsendDescribePortal(c.get(), "ext_cur")) t.rest_of_command("describe portal", soon());
        for (int i = 0; i < 3; ++i) {
            record_command(c, t, "fetch",
                           PQsendQueryParams(c.get(), "FETCH 3 FROM ext_cur", 0, nullptr, nullptr,
                                             nullptr, nullptr, 0));
        }
        if (PQsendDescribePortal(c.get(), "no_such_portal")) {
            t.rest_of_command("describe missing portal", soon());
        }
        t.query("COMMIT", soon());
    });
}

TEST_CASE("single-row mode streams the same rows through pgrev") {
    expect_transparent("PQsetSingleRowMode", [](PgConn& c, Transcript& t) {
        int sent =
            PQsendQueryParams(c.get(), "SELECT g, repeat('z', g) FROM generate_series(1, 50) g", 0,
                              nullptr, nullptr, nullptr, nullptr, 0);
        t.note(std::string("single row mode: ") + (PQsetSingleRowMode(c.get()) ? "on" : "off"));
        record_command(c, t, "row", sent);
        sent = PQsendQueryParams(c.get(), "SELECT 10 / (3 - g) FROM generate_series(1, 5) g", 0,
                                 nullptr, nullptr, nullptr, nullptr, 0);
        PQsetSingleRowMode(c.get());
        record_command(c, t, "row until error", sent);
    });
}

TEST_CASE("a failed transaction block in the extended protocol behaves the same through pgrev") {
    expect_transparent("extended protocol, 25P02", [](PgConn& c, Transcript& t) {
        auto exec = [&](const char* label, const char* sql) {
            record_command(
                c, t, label,
                PQsendQueryParams(c.get(), sql, 0, nullptr, nullptr, nullptr, nullptr, 0));
        };
        exec("begin", "BEGIN");
        exec("error", "SELECT 1/0");
        exec("ignored", "SELECT 1");
        exec("rollback", "ROLLBACK");
        exec("works again", "SELECT 'again' AS ok");
    });
}
