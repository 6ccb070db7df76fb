// The policy switches of README's refusal table: a pgrev started with
// audit.allow: [truncate, copy_from, merge, rev_table_changes] lets the statements through that
// the default configuration refuses. Each runs in a transaction that is rolled back, so the
// shared data comes out as it went in.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

struct Allowed {
    std::string sql;
    std::string tag_prefix;
    std::string probe;  // run afterwards in the same transaction
    std::string expected;
};

std::string snapshot(PgConn& direct) {
    return contents(direct, "reservation") + "---\n" + contents(direct, "reservation_rev");
}

}  // namespace

TEST_CASE("with audit.allow, TRUNCATE, COPY FROM, MERGE and history changes pass") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    TestEnv& env = TestEnv::get();
    std::unique_ptr<PgrevProcess> pgrev = env.start_pgrev(
        PgrevLimits{},
        "{tables: [reservation], allow: [truncate, copy_from, merge, rev_table_changes]}");
    PgConn direct = connect_direct();
    PgConn app = connect_via(pgrev->port());
    // Some history to change.
    exec(app, "UPDATE reservation SET party = party WHERE id = 100001");
    std::string before = snapshot(direct);

    const std::vector<Allowed> allowed = {
        {"TRUNCATE reservation", "TRUNCATE TABLE", "SELECT count(*) FROM reservation", "0"},
        {"MERGE INTO reservation r USING dinner_slot s ON r.id = s.id WHEN MATCHED THEN UPDATE "
         "SET party = s.party + 100 WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)",
         "MERGE 2", "SELECT count(*) FROM reservation WHERE party > 100", "2"},
        {"UPDATE reservation_rev SET party = -1", "UPDATE ",
         "SELECT count(*) FILTER (WHERE party IS DISTINCT FROM -1) FROM reservation_rev", "0"},
        {"DELETE FROM reservation_rev", "DELETE ", "SELECT count(*) FROM reservation_rev", "0"},
        {"TRUNCATE reservation_rev", "TRUNCATE TABLE", "SELECT count(*) FROM reservation_rev", "0"},
        {"ALTER TABLE reservation_rev ADD COLUMN note text", "ALTER TABLE",
         "SELECT count(*) FROM pg_attribute WHERE attrelid = 'reservation_rev'::regclass AND "
         "attname = 'note'",
         "1"},
        {"DROP TABLE reservation_rev", "DROP TABLE",
         "SELECT count(*) FROM pg_class WHERE relname = 'reservation_rev'", "0"},
    };
    for (const Allowed& a : allowed) {
        CAPTURE(a.sql);
        exec(app, "BEGIN");
        Outcome o = simple(app, a.sql);
        CHECK_MESSAGE(o.ok(), o.describe());
        CHECK_MESSAGE(o.tag.rfind(a.tag_prefix, 0) == 0, o.describe());
        CHECK(app.value(a.probe, soon()) == a.expected);
        exec(app, "ROLLBACK");
        CHECK(snapshot(direct) == before);
    }

    // COPY FROM STDIN, with the data.
    exec(app, "BEGIN");
    REQUIRE(PQsendQuery(app.get(), "COPY reservation (id, name, party) FROM STDIN") == 1);
    PgResult copy = app.next_result(soon());
    REQUIRE(copy);
    REQUIRE_MESSAGE(PQresultStatus(copy.get()) == PGRES_COPY_IN, outcome_of(copy.get()).describe());
    const std::string data = "400001\tcopied\t2\n400002\talso copied\t3\n";
    REQUIRE(PQputCopyData(app.get(), data.data(), static_cast<int>(data.size())) == 1);
    REQUIRE(PQputCopyEnd(app.get(), nullptr) == 1);
    PgResult done = app.next_result(soon());
    REQUIRE(done);
    CHECK_MESSAGE(std::string(PQcmdStatus(done.get())) == "COPY 2",
                  outcome_of(done.get()).describe());
    CHECK_FALSE(app.next_result(soon()));
    CHECK(count(app, "SELECT count(*) FROM reservation WHERE id IN (400001, 400002)") == 2);
    exec(app, "ROLLBACK");
    CHECK(snapshot(direct) == before);

    // What has no switch stays refused.
    CHECK(simple(app, "EXPLAIN ANALYZE DELETE FROM reservation").sqlstate == "0A000");
    CHECK(simple(app, "UPDATE reservation SET party = WHERE id = 1").sqlstate == "42601");
    CHECK(snapshot(direct) == before);
}

TEST_CASE("audit.allow: [unparsable] lets the server report its own syntax error") {
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    std::unique_ptr<PgrevProcess> pgrev =
        env.start_pgrev(PgrevLimits{}, "{tables: [reservation], allow: [unparsable]}");
    PgConn app = connect_via(pgrev->port());
    Outcome o = simple(app, "UPDATE reservation SET party = WHERE id = 1");
    CHECK(o.sqlstate == "42601");
    CHECK_MESSAGE(o.message.rfind("syntax error", 0) == 0, o.message);
    CHECK(count(app, "SELECT count(*) FROM reservation WHERE id = -1") == 0);
}
