// A client that sends an audited write and goes away at once, while pgrev holds the write back
// to read the catalog (the table was created after pgrev started, so pgrev reads it when a
// statement first writes to it). PostgreSQL runs a query that arrived before the client's
// Terminate; through pgrev the write must run as well, and with its revision. Without a
// Terminate (the client just closes) the write may run or not, but never without its revision:
// PostgreSQL runs it, pgrev drops a message it holds when its client goes away (on purpose, see
// tests/integration/pump_test.cpp, "a suspended pump sees its source end"); the test prints both.
#include <doctest/doctest.h>

#include <thread>

#include "fault_support.h"
#include "ledger_check.h"
#include "raw_client.h"

using namespace pgrev::it;
using namespace pgrev::it::faults;

namespace {

constexpr int kTables = 6;

std::string table_name(int i) {
    return "fault_late_" + std::to_string(i);
}

long count_or_zero(PgConn& direct, const std::string& table) {
    if (direct.value("SELECT to_regclass('" + table + "') IS NULL", patience()) == "t") return 0;
    return std::stol(direct.value("SELECT count(*) FROM " + table, patience()));
}

bool wait_for_other_sessions_gone(PgConn& direct) {
    Deadline deadline = deadline_in(std::chrono::seconds(30));
    for (;;) {
        std::string left = direct.value(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND "
            "pid <> pg_backend_pid()",
            patience());
        if (left == "0") return true;
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

}  // namespace

TEST_CASE("a client that sends an audited write and leaves while pgrev reads the catalog for it") {
    PgConn direct = connect_direct();
    std::string names;
    for (int i = 0; i < kTables; ++i) {
        names += (i == 0 ? "" : ", ") + table_name(i);
        direct.run("DROP TABLE IF EXISTS " + table_name(i) + ", " + table_name(i) + "_rev",
                   patience());
    }
    RestartablePgrev pgrev("{tables: [" + names + "]}", "debug");
    {
        // What PostgreSQL itself does with a query whose client closes right behind it.
        direct.run("DROP TABLE IF EXISTS fault_late_direct", patience());
        direct.run_one("CREATE TABLE fault_late_direct (id int)", patience(), PGRES_COMMAND_OK);
        RawClient client = RawClient::connect(TestEnv::get().cluster().port(), patience());
        client.send_all(startup_packet("postgres", "app"));
        while (auto message = client.read_message(patience())) {
            if (message->type == 'Z') break;
        }
        client.send_all(query_message("INSERT INTO fault_late_direct VALUES (1)"));
    }
    REQUIRE(wait_for_other_sessions_gone(direct));
    MESSAGE("directly, PostgreSQL ran the write a client left behind: " << count_or_zero(
                direct, "fault_late_direct"));
    for (int i = 0; i < kTables; ++i) {
        const std::string table = table_name(i);
        const bool with_terminate = i % 2 == 0;
        CAPTURE(table);
        CAPTURE(with_terminate);
        direct.run_one("CREATE TABLE " + table + " (id int PRIMARY KEY, note text)", patience(),
                       PGRES_COMMAND_OK);
        {
            RawClient client = RawClient::connect(pgrev.port(), patience());
            client.send_all(startup_packet("postgres", "app"));
            while (auto message = client.read_message(patience())) {
                if (message->type == 'Z') break;
            }
            client.send_all(
                query_message("INSERT INTO " + table + " VALUES (1, 'sent, then gone')") +
                (with_terminate ? terminate_message() : std::string()));
            if (with_terminate) CHECK(client.read_until_closed(patience()).closed);
        }  // closed: without a Terminate, right behind the query
        REQUIRE(wait_for_other_sessions_gone(direct));
        long rows = count_or_zero(direct, table);
        long revisions = count_or_zero(direct, table + "_rev");
        // PostgreSQL itself runs a query that came before the Terminate.
        if (with_terminate) CHECK(rows == 1);
        if (!with_terminate) MESSAGE(table << ": the write the client left behind ran: " << rows);
        CHECK(revisions == rows);

        // The table is audited from now on, through the same pgrev.
        PgConn after = PgConn::connect(pgrev.conninfo(), patience());
        after.run_one("INSERT INTO " + table + " VALUES (2, 'after')", patience(),
                      PGRES_COMMAND_OK);
        CHECK(count_or_zero(direct, table + "_rev") == rows + 1);
    }
    CHECK(pgrev.running());
    CommandResult verify = run_verify(pgrev);
    CHECK_MESSAGE(verify.exit_status == 0, verify.describe());
}
