// The ways around the rewrite that a client controlling the SQL would try (issue 10 item 1):
// DO blocks and routines whose code writes an audited table, rules on other tables that write
// it, ALTER COLUMN ... TYPE ... USING, partitions and children attached, detached or dropped,
// and revisions forged by hand. Through pgrev each is refused with its SQLSTATE and a message
// naming the table, nothing changes, and the session goes on; with its audit.allow switch each
// runs as it does directly on PostgreSQL.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

const char* const kDrop =
    "DROP TABLE IF EXISTS bp_t, bp_t_rev, bp_kid, bp_loose, bp_p, bp_p_rev, bp_filled, "
    "bp_other, bp_fresh, reservations CASCADE;"
    "DROP FUNCTION IF EXISTS bp_f(), bp_g(), bp_trusted();"
    "DROP PROCEDURE IF EXISTS bp_proc()";

const char* const kSchema =
    "CREATE TABLE bp_t (id int PRIMARY KEY, price numeric, v text);"
    "CREATE TABLE bp_kid () INHERITS (bp_t);"
    "CREATE TABLE bp_loose (id int NOT NULL, price numeric, v text);"
    "INSERT INTO bp_loose VALUES (7, 7, 'loose');"
    "CREATE TABLE bp_p (id int, v text) PARTITION BY LIST (id);"
    "CREATE TABLE bp_p_1 PARTITION OF bp_p FOR VALUES IN (1);"
    "CREATE TABLE bp_filled (id int, v text);"
    "INSERT INTO bp_filled VALUES (2, 'filled');"
    "CREATE TABLE bp_other (id int, v text);"
    "CREATE TABLE reservations (id int, v text);"
    "INSERT INTO reservations VALUES (1, 'other table')";

const char* const kTables = "tables: [reservation, bp_t, bp_p]";

struct Attack {
    std::string sql;
    std::string sqlstate;
    std::string names;  // what the message must name
};

// Every row of the audited tables, their histories, and their partitions' and children's links.
std::string snapshot(PgConn& direct) {
    std::string text;
    for (const char* t : {"reservation", "reservation_rev", "bp_t", "bp_t_rev", "bp_p", "bp_p_rev",
                          "bp_kid", "bp_filled", "bp_loose"}) {
        text += std::string(t) + ":\n" + contents(direct, t);
    }
    for (const auto& row :
         rows(direct,
              "SELECT inhrelid::regclass::text || ' < ' || inhparent::regclass::text FROM "
              "pg_inherits WHERE starts_with(inhparent::regclass::text, 'bp_') ORDER BY 1")) {
        text += row + "\n";
    }
    for (const auto& row : rows(direct,
                                "SELECT proname FROM pg_proc WHERE starts_with(proname, 'bp_') "
                                "UNION ALL SELECT rulename FROM pg_rules WHERE "
                                "starts_with(rulename, 'bp_') ORDER BY 1")) {
        text += row + "\n";
    }
    return text + rows(direct,
                       "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                       "WHERE attrelid = 'bp_t'::regclass AND attname = 'price'")[0];
}

const std::vector<Attack> kAttacks = {
    {"DO $$ BEGIN UPDATE reservation SET party = 0; END $$", "0A000", "public.reservation"},
    {"DO $$BEGIN EXECUTE 'UPDATE ' || 'reservation SET party = 0'; END$$", "0A000",
     "public.reservation"},
    // Only reads: PL/pgSQL's reads and writes cannot be told apart from its text.
    {"DO $$BEGIN PERFORM count(*) FROM reservation; END$$", "0A000", "public.reservation"},
    // The name spelled in an E'' string, without its letters: past the prefilter too.
    {R"(DO E'BEGIN UPDATE \162eservation SET party = 0; END')", "0A000", "public.reservation"},
    {"DO 'BEGIN UPDATE reser'\n'vation SET party = 0; END'", "0A000", "public.reservation"},
    {"DO $$BEGIN INSERT INTO bp_p VALUES (1, 'unaudited'); END$$", "0A000", "public.bp_p"},
    {R"(CREATE FUNCTION bp_f() RETURNS void LANGUAGE sql AS $$UPDATE U&"\0072eservation" SET party = 0$$)",
     "0A000", "public.reservation"},
    {R"(CREATE OR REPLACE FUNCTION bp_g() RETURNS void LANGUAGE plpgsql AS $$BEGIN UPDATE "reservation" SET party = 0; END$$)",
     "0A000", "public.reservation"},
    {"CREATE PROCEDURE bp_proc() LANGUAGE sql BEGIN ATOMIC UPDATE reservation SET party = 0; END",
     "0A000", "public.reservation"},
    {"CREATE RULE bp_r AS ON INSERT TO bp_other DO ALSO UPDATE reservation SET party = 0", "0A000",
     "public.reservation"},
    {"ALTER TABLE bp_t ALTER COLUMN price TYPE int USING price * 100", "0A000", "public.bp_t"},
    {"ALTER TABLE bp_p ATTACH PARTITION bp_filled FOR VALUES IN (2)", "0A000", "public.bp_p"},
    {"ALTER TABLE bp_p DETACH PARTITION bp_p_1", "0A000", "public.bp_p"},
    {"ALTER TABLE bp_loose INHERIT bp_t", "0A000", "public.bp_t"},
    {"ALTER TABLE bp_kid NO INHERIT bp_t", "0A000", "public.bp_t"},
    {"DROP TABLE bp_p_1", "0A000", "public.bp_p"},
    {"INSERT INTO reservation_rev (rev_id, rev_created, rev_isdelete, id, name) VALUES "
     "(gen_random_uuid(), 0, false, 100001, 'never happened')",
     "42501", "public.reservation_rev"},
    {"COPY reservation_rev (rev_id, rev_created, rev_isdelete, id) FROM STDIN", "42501",
     "public.reservation_rev"},
};

// Refused as a simple Query and in the extended protocol; the session goes on.
void check_refused(PgConn& app, const Attack& a) {
    for (bool extended : {false, true}) {
        CAPTURE(extended);
        Outcome o = extended ? with_params(app, a.sql, {}) : simple(app, a.sql);
        CHECK_MESSAGE(o.sqlstate == a.sqlstate, o.describe());
        CHECK_MESSAGE(o.message.rfind("pgrev: ", 0) == 0, o.describe());
        CHECK_MESSAGE(o.message.find(a.names) != std::string::npos,
                      "the message should name " << a.names << ": " << o.describe());
        CHECK_MESSAGE(o.message.find("audit.allow") != std::string::npos, o.describe());
        CHECK(PQtransactionStatus(app.get()) == PQTRANS_IDLE);
        CHECK(simple(app, "SELECT 1").rows == std::vector<std::string>{"1"});
    }
}

}  // namespace

TEST_CASE("code, rules, DDL and forged revisions that would go around the audit are refused") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct, kSchema);
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, std::string("{") + kTables + ", trusted_routines: [bp_trusted]}");
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO bp_p VALUES (1, 'one')").tag == "INSERT 0 1");
    CHECK(simple(app, "INSERT INTO bp_t VALUES (1, 2.5, 'one')").tag == "INSERT 0 1");
    std::string before = snapshot(direct);

    for (const Attack& a : kAttacks) {
        CAPTURE(a.sql);
        check_refused(app, a);
        CHECK(snapshot(direct) == before);
    }

    // A write of history hidden where pgrev does not rewrite is refused as a write of history.
    for (const char* sql :
         {"EXPLAIN ANALYZE INSERT INTO reservation_rev (rev_id) VALUES (gen_random_uuid())",
          "COPY (DELETE FROM reservation_rev RETURNING 1) TO STDOUT"}) {
        CAPTURE(sql);
        Outcome o = simple(app, sql);
        CHECK_MESSAGE(o.sqlstate == "42501", o.describe());
        CHECK_MESSAGE(o.message.find("revision table public.reservation_rev") != std::string::npos,
                      o.describe());
        CHECK(snapshot(direct) == before);
    }

    // A refused ATTACH links nothing: its table stays an ordinary one.
    CHECK(simple(app, "UPDATE bp_filled SET v = v").tag == "UPDATE 1");

    // Not an audited table: a longer name, a body that names none. They run as directly.
    CHECK(simple(app, "DO $$BEGIN UPDATE reservations SET v = 'changed'; END$$").tag == "DO");
    CHECK(rows(direct, "SELECT v FROM reservations") == std::vector<std::string>{"changed"});
    CHECK(simple(app,
                 "CREATE FUNCTION bp_g() RETURNS int LANGUAGE sql AS "
                 "$$SELECT count(*)::int FROM reservations$$")
              .tag == "CREATE FUNCTION");
    // A routine the DBA vouches for may name it (it is public's: unqualified).
    CHECK(simple(app,
                 "CREATE FUNCTION bp_trusted() RETURNS void LANGUAGE sql AS "
                 "$$UPDATE reservation SET party = party WHERE id = 100001$$")
              .tag == "CREATE FUNCTION");
    // A plain type change: pgrev converts the history with the same cast.
    CHECK(simple(app, "ALTER TABLE bp_t ALTER COLUMN price TYPE float8").tag == "ALTER TABLE");
    CHECK(simple(app, "INSERT INTO bp_t VALUES (2, 1.5, 'two')").tag == "INSERT 0 1");
    CHECK(rows(direct,
               "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE "
               "attrelid = 'bp_t_rev'::regclass AND attname = 'price'") ==
          std::vector<std::string>{"double precision"});
    // An empty new partition stays allowed, and is audited through its table.
    CHECK(simple(app, "CREATE TABLE bp_p_3 PARTITION OF bp_p FOR VALUES IN (3)").ok());
    CHECK(simple(app, "INSERT INTO bp_p VALUES (3, 'three')").tag == "INSERT 0 1");
    CHECK(rows(direct, "SELECT id, v FROM bp_p_rev ORDER BY id") ==
          std::vector<std::string>{"1|one", "3|three"});
}

TEST_CASE("with audit.allow, each refused way runs as it does directly") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    exec(direct, kSchema);
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, std::string("{") + kTables +
                           ", allow: [do_blocks, routine_definitions, rules, column_rewrites, "
                           "partition_changes, rev_backfill]}");
    PgConn app = connect_via(pgrev->port());
    CHECK(simple(app, "INSERT INTO bp_t VALUES (1, 2.5, 'one')").tag == "INSERT 0 1");
    std::string before = snapshot(direct);

    // What each changes, read in the same transaction: the same directly and through pgrev.
    struct Allowed {
        std::string sql;
        std::string probe;
    };
    const std::vector<Allowed> allowed = {
        {"DO $$ BEGIN UPDATE reservation SET party = 0 WHERE id = 100001; END $$",
         "SELECT party, (SELECT count(*) FROM reservation_rev) FROM reservation "
         "WHERE id = 100001"},
        {"CREATE FUNCTION bp_f() RETURNS void LANGUAGE sql AS "
         "$$UPDATE reservation SET party = 0$$",
         "SELECT count(*) FROM pg_proc WHERE proname = 'bp_f'"},
        {"CREATE RULE bp_r AS ON INSERT TO bp_other DO ALSO UPDATE reservation SET party = 7 "
         "WHERE id = 100002",
         "SELECT count(*) FROM pg_rules WHERE rulename = 'bp_r'"},
        {"ALTER TABLE bp_t ALTER COLUMN price TYPE int USING price * 100", "SELECT * FROM bp_t"},
        {"ALTER TABLE bp_p ATTACH PARTITION bp_filled FOR VALUES IN (2)",
         "SELECT id, v FROM bp_p ORDER BY id"},
        {"ALTER TABLE bp_p DETACH PARTITION bp_p_1", "SELECT count(*) FROM bp_p"},
        {"ALTER TABLE bp_loose INHERIT bp_t", "SELECT id, v FROM bp_t ORDER BY id"},
        {"ALTER TABLE bp_kid NO INHERIT bp_t",
         "SELECT count(*) FROM pg_inherits WHERE "
         "inhrelid = 'bp_kid'::regclass"},
        {"DROP TABLE bp_p_1", "SELECT count(*) FROM pg_class WHERE relname = 'bp_p_1'"},
        {"INSERT INTO reservation_rev (rev_id, rev_created, rev_isdelete, id, name) VALUES "
         "('00000000-0000-0000-0000-0000000000b1', 0, false, 100001, 'backfilled')",
         "SELECT name FROM reservation_rev WHERE rev_id = "
         "'00000000-0000-0000-0000-0000000000b1'"},
    };
    for (const Allowed& a : allowed) {
        CAPTURE(a.sql);
        exec(direct, "BEGIN");
        Outcome want = simple(direct, a.sql);
        std::vector<std::string> want_rows = rows(direct, a.probe);
        exec(direct, "ROLLBACK");
        REQUIRE_MESSAGE(want.ok(), want.describe());

        exec(app, "BEGIN");
        Outcome got = simple(app, a.sql);
        CHECK_MESSAGE(got.ok(), got.describe());
        CHECK(got.tag == want.tag);
        CHECK(rows(app, a.probe) == want_rows);
        exec(app, "ROLLBACK");
        CHECK(snapshot(direct) == before);
    }

    // An attached partition is known by name at once: written to only through its table.
    exec(direct, "CREATE TABLE bp_fresh (id int, v text)");
    exec(app, "BEGIN");
    CHECK(simple(app, "ALTER TABLE bp_p ATTACH PARTITION bp_fresh FOR VALUES IN (5)").ok());
    Outcome through_partition = simple(app, "INSERT INTO bp_fresh VALUES (5, 'unaudited')");
    CHECK_MESSAGE(through_partition.sqlstate == "0A000", through_partition.describe());
    exec(app, "ROLLBACK");

    // COPY FROM STDIN into the history, with the data.
    REQUIRE(PQsendQuery(app.get(),
                        "COPY reservation_rev (rev_id, rev_created, rev_isdelete, "
                        "id) FROM STDIN") == 1);
    PgResult copy = app.next_result(soon());
    REQUIRE(copy);
    REQUIRE_MESSAGE(PQresultStatus(copy.get()) == PGRES_COPY_IN, outcome_of(copy.get()).describe());
    const std::string data = "00000000-0000-0000-0000-0000000000b2\t0\tfalse\t100003\n";
    REQUIRE(PQputCopyData(app.get(), data.data(), static_cast<int>(data.size())) == 1);
    REQUIRE(PQputCopyEnd(app.get(), nullptr) == 1);
    PgResult done = app.next_result(soon());
    REQUIRE(done);
    CHECK(std::string(PQcmdStatus(done.get())) == "COPY 1");
    CHECK_FALSE(app.next_result(soon()));
    CHECK(count(direct,
                "SELECT count(*) FROM reservation_rev WHERE rev_id = "
                "'00000000-0000-0000-0000-0000000000b2'") == 1);
    exec(direct,
         "DELETE FROM reservation_rev WHERE rev_id = "
         "'00000000-0000-0000-0000-0000000000b2'");
}
