// Auditing without superuser rights (audit/catalog_loader.cpp): the revision table of a
// table owned by an ordinary role belongs to that role, roles allowed to change the table may
// append to its history, and their writes through pgrev are audited.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

const char* const kDrop =
    "DROP TABLE IF EXISTS scram_notes, scram_notes_rev, scram_late, "
    "scram_late_rev";

std::string owner_of(PgConn& c, const std::string& table) {
    return c.value("SELECT tableowner FROM pg_tables WHERE tablename = '" + table + "'", soon());
}

}  // namespace

TEST_CASE("a non-superuser's own audited table: its history is its own, and written") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kDrop);
    exec(direct, kDrop);
    {
        PgConn scram = connect_direct("scramuser");
        exec(scram, "CREATE TABLE scram_notes (id int PRIMARY KEY, note text)");
        exec(scram, "GRANT SELECT, INSERT, UPDATE ON scram_notes TO md5user");
    }
    std::unique_ptr<PgrevProcess> pgrev = TestEnv::get().start_pgrev(
        PgrevLimits{}, "{tables: [reservation, scram_notes, scram_late]}");
    CHECK(owner_of(direct, "scram_notes_rev") == "scramuser");

    PgConn owner = connect_via(pgrev->port(), "scramuser");
    CHECK(simple(owner, "INSERT INTO scram_notes VALUES (1, 'mine')").tag == "INSERT 0 1");
    CHECK(simple(owner, "UPDATE scram_notes SET note = 'still mine' WHERE id = 1").tag ==
          "UPDATE 1");

    // A role the owner granted INSERT and UPDATE may append to the history too.
    PgConn granted = connect_via(pgrev->port(), "md5user");
    Outcome inserted =
        simple(granted, "INSERT INTO scram_notes VALUES (2, 'granted') RETURNING id");
    CHECK_MESSAGE(inserted.tag == "INSERT 0 1", inserted.describe());
    Outcome updated = simple(granted, "UPDATE scram_notes SET note = 'changed' WHERE id = 2");
    CHECK_MESSAGE(updated.tag == "UPDATE 1", updated.describe());
    // ... but not DELETE, which it was not granted: the server's own answer.
    Outcome denied = simple(granted, "DELETE FROM scram_notes WHERE id = 2");
    CHECK_MESSAGE(denied.sqlstate == "42501", denied.describe());
    CHECK(simple(owner, "DELETE FROM scram_notes WHERE id = 1").tag == "DELETE 1");

    CHECK(rows(owner, "SELECT rev_isdelete, id, note FROM scram_notes_rev ORDER BY rev_created") ==
          std::vector<std::string>{"f|1|mine", "f|1|still mine", "f|2|granted", "f|2|changed",
                                   "t|1|NULL"});

    // Created by the role through pgrev after pgrev started: the same.
    CHECK(simple(owner, "CREATE TABLE scram_late (id int PRIMARY KEY, note text)").tag ==
          "CREATE TABLE");
    CHECK(simple(owner, "INSERT INTO scram_late VALUES (1, 'late')").tag == "INSERT 0 1");
    CHECK(owner_of(direct, "scram_late_rev") == "scramuser");
    CHECK(rows(owner, "SELECT rev_isdelete, id, note FROM scram_late_rev") ==
          std::vector<std::string>{"f|1|late"});
}

// pgrev reads the stored row back with RETURNING, which needs SELECT privilege (README, "Good
// to know"): a role that may only INSERT is refused by the server, and nothing is written.
TEST_CASE("a role that may only INSERT, not read, fails closed through pgrev") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    const char* drop = "DROP TABLE IF EXISTS insert_only, insert_only_rev";
    DirectCleanup cleanup(drop);
    exec(direct, drop);
    exec(direct, "CREATE TABLE insert_only (id int PRIMARY KEY, line text)");
    exec(direct, "GRANT INSERT ON insert_only TO md5user");
    std::unique_ptr<PgrevProcess> pgrev =
        TestEnv::get().start_pgrev(PgrevLimits{}, "{tables: [reservation, insert_only]}");
    {
        PgConn plain = connect_direct("md5user");
        CHECK(simple(plain, "INSERT INTO insert_only VALUES (1, 'direct')").tag == "INSERT 0 1");
    }
    PgConn logger = connect_via(pgrev->port(), "md5user");
    Outcome o = simple(logger, "INSERT INTO insert_only VALUES (2, 'through pgrev')");
    CHECK_MESSAGE(o.sqlstate == "42501", o.describe());
    CHECK(rows(direct, "SELECT id FROM insert_only ORDER BY id") == std::vector<std::string>{"1"});
    CHECK(count(direct, "SELECT count(*) FROM insert_only_rev") == 0);
    // With SELECT granted too, the same role writes through pgrev and its history is kept.
    exec(direct, "GRANT SELECT ON insert_only TO md5user");
    Outcome granted = simple(logger, "INSERT INTO insert_only VALUES (3, 'through pgrev')");
    CHECK_MESSAGE(granted.tag == "INSERT 0 1", granted.describe());
    CHECK(rows(direct, "SELECT rev_isdelete, id, line FROM insert_only_rev") ==
          std::vector<std::string>{"f|3|through pgrev"});
}
