// pgrev's revisions against the classic alternative: an AFTER ROW trigger in PL/pgSQL that
// writes the same columns into reservation_trig. Through pgrev, both must hold the same rows in
// the same order per reservation, for bulk and odd statements alike, and with a BEFORE trigger
// that changes the row, both must hold the row as stored (read back with RETURNING).
#include <doctest/doctest.h>

#include <algorithm>

#include "audit_support.h"
#include "result_text.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

const char* const kSetup = R"sql(
CREATE TABLE reservation_trig (seq bigserial, rev_isdelete boolean, id int, name text,
                               date date, time time, party int, last_modified timestamptz);
CREATE FUNCTION reservation_trig_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO reservation_trig (rev_isdelete, id) VALUES (true, OLD.id);
    ELSE
        INSERT INTO reservation_trig (rev_isdelete, id, name, date, time, party, last_modified)
        VALUES (false, NEW.id, NEW.name, NEW.date, NEW.time, NEW.party, NEW.last_modified);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER reservation_trig AFTER INSERT OR UPDATE OR DELETE ON reservation
    FOR EACH ROW EXECUTE FUNCTION reservation_trig_fn();
CREATE FUNCTION reservation_touch_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name := upper(NEW.name);
    NEW.last_modified := clock_timestamp();
    RETURN NEW;
END $$;
)sql";

const char* const kCleanup = R"sql(
DROP TRIGGER IF EXISTS reservation_trig ON reservation;
DROP TRIGGER IF EXISTS reservation_touch ON reservation;
DROP FUNCTION IF EXISTS reservation_trig_fn();
DROP FUNCTION IF EXISTS reservation_touch_fn();
DROP TABLE IF EXISTS reservation_trig;
DELETE FROM reservation WHERE id BETWEEN 200001 AND 200999;
)sql";

const char* const kColumns = "rev_isdelete, id, name, date, time, party, last_modified";

// Every revision of the test's ids, one line each, sorted: the multiset.
std::string multiset(PgConn& c, const std::string& table) {
    std::vector<std::string> all = rows(c, std::string("SELECT ") + kColumns + " FROM " + table +
                                               " WHERE id BETWEEN 200001 AND 200999");
    std::sort(all.begin(), all.end());
    std::string text;
    for (const std::string& line : all)
        text += line + "\n";
    return text;
}

// Per reservation, its revisions in the order they were made.
std::string timelines(PgConn& c, const std::string& table, const std::string& order) {
    std::vector<std::string> all =
        rows(c,
             "SELECT id, string_agg(concat_ws(',', rev_isdelete, name, date, time, party, "
             "last_modified), ' / ' ORDER BY " +
                 order + ") FROM " + table +
                 " WHERE id BETWEEN 200001 AND 200999 GROUP BY id ORDER BY id");
    std::string text;
    for (const std::string& line : all)
        text += line + "\n";
    return text;
}

}  // namespace

TEST_CASE("pgrev's revisions equal an AFTER ROW trigger's, through a series of statements") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    PgConn direct = connect_direct();
    DirectCleanup cleanup(kCleanup);
    exec(direct, kCleanup);
    exec(direct, kSetup);
    PgConn app = connect_proxied();

    CHECK(exec(app,
               "INSERT INTO reservation (id, name, date, time, party) SELECT g, 'guest ' || g, "
               "DATE '2015-04-15' + g % 30, TIME '18:00' + (g % 8) * INTERVAL '15 minutes', "
               "g % 7 + 1 FROM generate_series(200001, 200100) AS g") == "INSERT 0 100");
    CHECK(
        exec(app, "UPDATE reservation SET party = party + 1 WHERE id BETWEEN 200001 AND 200100") ==
        "UPDATE 100");
    CHECK(exec(app,
               "INSERT INTO reservation (id, name, party) VALUES (200001, 'x', 9), (200101, "
               "'new', 2), (200002, 'y', 7) ON CONFLICT (id) DO UPDATE SET party = "
               "EXCLUDED.party WHERE reservation.party <> EXCLUDED.party") == "INSERT 0 2");
    CHECK(exec(app,
               "INSERT INTO reservation (id, name) VALUES (200101, 'again'), (200102, 'newer') "
               "ON CONFLICT DO NOTHING") == "INSERT 0 1");
    CHECK(exec(app,
               "DELETE FROM reservation r USING generate_series(200001, 200100, 10) AS g(id) "
               "WHERE r.id = g.id") == "DELETE 10");
    Outcome deleted = simple(app,
                             "DELETE FROM reservation r USING (SELECT generate_series(200002, "
                             "200100, 10) AS id) AS v WHERE r.id = v.id RETURNING r.id, v.id");
    CHECK_MESSAGE(deleted.tag == "DELETE 10", deleted.describe());
    CHECK(exec(app,
               "UPDATE reservation r SET party = r.party * 2 FROM (VALUES (200003), (200004)) "
               "AS v(id) WHERE r.id = v.id RETURNING r.*") == "UPDATE 2");
    CHECK(exec(app,
               "WITH u AS (UPDATE reservation SET date = date + 1 WHERE id BETWEEN 200005 AND "
               "200009 RETURNING id) SELECT count(*) FROM u") == "SELECT 1");

    // From here on a BEFORE trigger changes every row written: the revision holds its result.
    exec(direct,
         "CREATE TRIGGER reservation_touch BEFORE INSERT OR UPDATE ON reservation FOR EACH ROW "
         "EXECUTE FUNCTION reservation_touch_fn()");
    Outcome touched =
        simple(app,
               "INSERT INTO reservation (id, name, party) VALUES (200201, 'lower case', 2) "
               "RETURNING name");
    CHECK(touched.tag == "INSERT 0 1");
    CHECK(touched.rows == std::vector<std::string>{"LOWER CASE"});
    CHECK(exec(app,
               "UPDATE reservation SET name = 'changed name' WHERE id BETWEEN 200013 AND 200015") ==
          "UPDATE 3");
    CHECK(exec(app,
               "INSERT INTO reservation (id, name, party) VALUES (200201, 'upsert', 5), "
               "(200202, 'fresh', 1) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name") ==
          "INSERT 0 2");
    CHECK(exec(app, "DELETE FROM reservation WHERE id BETWEEN 200001 AND 200999") == "DELETE 84");

    std::string from_trigger = multiset(direct, "reservation_trig");
    std::string from_pgrev = multiset(direct, "reservation_rev");
    CHECK(count(direct,
                "SELECT count(*) FROM reservation_trig WHERE id BETWEEN 200001 AND 200999") == 320);
    check_same("revisions: the trigger's (expected) and pgrev's", from_trigger, from_pgrev);
    check_same("timelines per reservation: the trigger's (expected) and pgrev's",
               timelines(direct, "reservation_trig", "seq"),
               timelines(direct, "reservation_rev", "rev_created"));

    // The BEFORE trigger's work, as stored, in pgrev's revisions.
    CHECK(rows(direct, "SELECT name FROM reservation_rev WHERE id = 200201 ORDER BY rev_created") ==
          std::vector<std::string>{"LOWER CASE", "UPSERT", "NULL"});
    CHECK(count(direct,
                "SELECT count(*) FROM reservation_rev v JOIN reservation_trig t USING (id) WHERE "
                "v.id BETWEEN 200013 AND 200015 AND v.name = 'CHANGED NAME' AND t.name = v.name "
                "AND t.last_modified = v.last_modified") == 3);
}
