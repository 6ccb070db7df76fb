// The timeline of the sqlalchemy-audit README, through pgrev: Steve books a table for 6,
// changes it to 4, cancels. reservation_rev must then read like the README's table
// (README, The reservation example), with the row as stored: the serial id and the server's default
// last_modified, which sqlalchemy-audit itself cannot record.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <string>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

double server_epoch(PgConn& c) {
    return std::stod(c.value("SELECT extract(epoch from clock_timestamp())::float8", soon()));
}

// Checks the three revisions of reservation `id`, made between server times `before` and
// `after`.
void check_timeline(PgConn& direct, const std::string& id, double before, double after) {
    std::vector<std::string> revs =
        rows(direct,
             "SELECT rev_isdelete, id, name, date, time, party, last_modified "
             "FROM reservation_rev WHERE id = " +
                 id + " ORDER BY rev_created");
    std::vector<std::string> meta = rows(direct,
                                         "SELECT rev_id, rev_created, pg_typeof(rev_id), "
                                         "pg_typeof(rev_created) FROM reservation_rev "
                                         "WHERE id = " +
                                             id + " ORDER BY rev_created");
    REQUIRE_MESSAGE(revs.size() == 3, "revisions of reservation " << id << ": " << revs.size());
    REQUIRE(meta.size() == 3);

    // The row's last_modified is the server default now(), as of the INSERT's transaction.
    std::string last_modified =
        direct.value("SELECT last_modified FROM reservation_rev WHERE id = " + id +
                         " AND NOT rev_isdelete ORDER BY rev_created LIMIT 1",
                     soon());
    double stamped = std::stod(direct.value(
        "SELECT extract(epoch from '" + last_modified + "'::timestamptz)::float8", soon()));
    CHECK(stamped >= before);
    CHECK(stamped <= after);

    CHECK(revs[0] == "f|" + id + "|Steve|2015-04-15|19:00:00|6|" + last_modified);
    CHECK(revs[1] == "f|" + id + "|Steve|2015-04-15|19:00:00|4|" + last_modified);
    CHECK(revs[2] == "t|" + id + "|NULL|NULL|NULL|NULL|NULL");

    static const std::regex uuid_text(
        "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\\|.*\\|uuid\\|double "
        "precision$");
    std::set<std::string> rev_ids;
    double previous = before;
    for (const std::string& line : meta) {
        CHECK_MESSAGE(std::regex_match(line, uuid_text), line);
        rev_ids.insert(line.substr(0, line.find('|')));
        std::string rest = line.substr(line.find('|') + 1);
        double created = std::stod(rest.substr(0, rest.find('|')));
        CHECK_MESSAGE(created > previous, "rev_created must increase strictly: " << line);
        previous = created;
    }
    CHECK(previous <= after);
    CHECK(rev_ids.size() == 3);
    // Nothing of the reservation is left, and nothing of it is missing from the history.
    CHECK(count(direct, "SELECT count(*) FROM reservation WHERE id = " + id) == 0);
}

}  // namespace

TEST_CASE("the README timeline through pgrev with simple queries") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    double before = server_epoch(direct);

    // psql sends each line as one Query message.
    CHECK(exec(app,
               "INSERT INTO reservation (name, date, time, party) "
               "VALUES ('Steve', '2015-04-15', '19:00', 6)") == "INSERT 0 1");
    std::string id = app.value("SELECT currval('reservation_id_seq')", soon());
    CHECK(exec(app, "UPDATE reservation SET party = 4 WHERE id = " + id) == "UPDATE 1");
    CHECK(exec(app, "DELETE FROM reservation WHERE id = " + id) == "DELETE 1");

    check_timeline(direct, id, before, server_epoch(direct));
}

TEST_CASE("the README timeline through pgrev with the extended protocol") {
    if (skip_without_pgrev()) return;
    PgConn direct = connect_direct();
    PgConn app = connect_proxied();
    double before = server_epoch(direct);

    // What an ORM sends: parameters, and RETURNING for the new key.
    Outcome inserted = with_params(app,
                                   "INSERT INTO reservation (name, date, time, party) "
                                   "VALUES ($1, $2, $3, $4) RETURNING id",
                                   {"Steve", "2015-04-15", "19:00", "6"});
    REQUIRE_MESSAGE(inserted.ok(), inserted.describe());
    CHECK(inserted.tag == "INSERT 0 1");
    REQUIRE(inserted.rows.size() == 1);
    std::string id = inserted.rows[0];

    Outcome updated =
        with_params(app, "UPDATE reservation SET party = $1 WHERE id = $2", {"4", id.c_str()});
    CHECK_MESSAGE(updated.tag == "UPDATE 1", updated.describe());
    Outcome deleted = with_params(app, "DELETE FROM reservation WHERE id = $1", {id.c_str()});
    CHECK_MESSAGE(deleted.tag == "DELETE 1", deleted.describe());

    check_timeline(direct, id, before, server_epoch(direct));
}
