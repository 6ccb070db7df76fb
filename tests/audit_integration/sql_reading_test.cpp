// pgrev reads SQL text as the server does (issue 7 item 1): where a comment, string or
// statement ends is the server's scanner's decision. A `--` comment ended by a bare carriage
// return once hid the rest of an UPDATE from pgrev: the server updated rows whose revisions
// pgrev never wrote. Each story compares pgrev with PostgreSQL directly and counts revisions.
#include <doctest/doctest.h>

#include "audit_support.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {
const char* const kSeeded =
    "SELECT id, party FROM reservation WHERE id BETWEEN 100001 AND 100003 ORDER BY id";
}

TEST_CASE("a -- comment ends at a carriage return, as the server reads it") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    run_stories({
        queries("the reported case: the condition after the comment still applies",
                {"UPDATE reservation SET party = 43 WHERE id > 0 --\rAND false", kSeeded}, 0),
        queries("the text after the comment widens the change and returns rows",
                {"UPDATE reservation SET party = 44 WHERE id = 100001 --\rOR id = 100002 "
                 "RETURNING id, party",
                 kSeeded},
                2),
        queries("CR LF, and a statement after the comment",
                {"DELETE FROM reservation WHERE id = 100003 --\r\nAND false; UPDATE reservation "
                 "SET party = 45 WHERE id = 100001 -- x\r",
                 kSeeded},
                1),
        queries(
            "a string continued over a line break is one literal",
            {"UPDATE reservation SET name = 'Bo'\r'b' WHERE id = 100002 RETURNING name", kSeeded},
            1),
    });
}

TEST_CASE("a string the server continues across a comment is refused, not forwarded") {
    if (skip_without_pgrev()) return;
    seed_reservations();
    // PostgreSQL reads 'x' -- c <LF> 'y' as 'xy'; libpg_query's scanner does not, so pgrev's
    // parser sees a syntax error where the server sees a valid UPDATE.
    PgConn c = connect_proxied();
    Outcome o = simple(c, "UPDATE reservation SET name = 'x' -- c\n'y' WHERE id = 100001");
    CHECK(o.sqlstate == "42601");
    CHECK(o.message.rfind("pgrev: ", 0) == 0);
    CHECK(count(c, "SELECT count(*) FROM reservation WHERE name = 'xy'") == 0);
}
