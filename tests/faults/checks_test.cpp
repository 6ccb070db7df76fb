// The checks the fault tests end with must be able to fail: changes made behind pgrev's back
// (the ways a fault could break the audit) are each found and named.
#include <doctest/doctest.h>

#include <algorithm>

#include "fault_support.h"
#include "ledger_check.h"

using namespace pgrev::it;
using namespace pgrev::it::faults;

namespace {

bool mentions(const std::vector<std::string>& problems, const std::string& text) {
    return std::any_of(problems.begin(), problems.end(),
                       [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

std::string listed(const std::vector<std::string>& problems) {
    std::string text;
    for (const std::string& p : problems)
        text += "\n  " + p;
    return text;
}

// "1,9,2" as verify names the key: "1, txn=9, k=2" (after "client=").
std::string verify_key(const std::string& key) {
    std::size_t first = key.find(',');
    std::size_t second = key.find(',', first + 1);
    return key.substr(0, first) + ", txn=" + key.substr(first + 1, second - first - 1) +
           ", k=" + key.substr(second + 1);
}

}  // namespace

TEST_CASE("the fault tests' checks find changes without revisions and revisions without changes") {
    create_schema();
    RestartablePgrev pgrev(kAuditYaml);
    Ledger ledger;
    {
        ThreadedLoad load(pgrev.conninfo(), 1, 2, ledger);
        // Enough transactions that some update and delete the rows of earlier ones.
        REQUIRE(load.wait_for_progress({10, 10}, std::chrono::seconds(30)));
        expect_clients_fine(load.stop(), 0);
    }
    PgConn direct = connect_direct();
    REQUIRE(check_against_ledger(direct, ledger).problems.empty());
    std::vector<std::string> before = check_consistency(pgrev);
    REQUIRE_MESSAGE(before.empty(), listed(before));

    // Behind pgrev's back: a change without its revision, a row without any, a revision
    // without its change, a lost revision, and a committed transaction gone.
    std::string changed = direct.value(
        "SELECT client || ',' || txn || ',' || k FROM fault_item ORDER BY 1 LIMIT 1", patience());
    direct.run_one(
        "UPDATE fault_item SET val = val + 1000 WHERE (client, txn, k) = (" + changed + ")",
        patience(), PGRES_COMMAND_OK);
    direct.run_one("INSERT INTO fault_item VALUES (7, 7, 1, 0)", patience(), PGRES_COMMAND_OK);
    direct.run_one(
        "INSERT INTO fault_item_rev (rev_created, client, txn, k, val) VALUES "
        "(extract(epoch FROM clock_timestamp()), 8, 8, 1, 0)",
        patience(), PGRES_COMMAND_OK);
    direct.run_one("DELETE FROM fault_txn_rev WHERE client = 2 AND txn = 5", patience(),
                   PGRES_COMMAND_OK);
    direct.run_one("DELETE FROM fault_txn WHERE client = 2 AND txn = 6", patience(),
                   PGRES_COMMAND_OK);

    CommandResult verify = run_verify(pgrev);
    INFO("pgrev verify: " << verify.describe());
    CHECK(verify.exit_status == 1);
    CHECK(mentions({verify.out},
                   "app: public.fault_item: client=" + verify_key(changed) + ": changed (val)\n"));
    CHECK(mentions({verify.out}, "app: public.fault_item: client=7, txn=7, k=1: no revision\n"));
    CHECK(mentions({verify.out}, "app: public.fault_item: client=8, txn=8, k=1: missing row\n"));
    CHECK(mentions({verify.out}, "app: public.fault_txn: client=2, txn=5: no revision\n"));
    CHECK(mentions({verify.out}, "app: public.fault_txn: client=2, txn=6: missing row\n"));

    std::vector<std::string> history = check_consistency(pgrev);
    INFO("found:" << listed(history));
    CHECK(mentions(history,
                   "fault_item key (" + changed + "): the latest revision differs from the row"));
    CHECK(mentions(history, "fault_item key (7,7,1): a row without any revision"));
    CHECK(mentions(history,
                   "fault_item key (8,8,1): the latest revision is not a delete, but "
                   "there is no row"));
    CHECK(mentions(history, "fault_txn key (2,5): a row without any revision"));
    CHECK(mentions(history,
                   "fault_txn key (2,6): the latest revision is not a delete, but there "
                   "is no row"));

    std::vector<std::string> seen = check_against_ledger(direct, ledger).problems;
    INFO("against the ledger:" << listed(seen));
    CHECK(mentions(seen,
                   "client 2 txn 6: the client saw COMMIT succeed, but it is not in "
                   "fault_txn"));
    CHECK(mentions(seen,
                   "fault_txn_rev rows of client 2 txn 5: expected 1 upserts, 0 deletes, "
                   "found none"));
    CHECK(mentions(seen, "insert revisions (val 0) of client 8 txn 8: expected none, found 1"));
    CHECK(mentions(seen, "fault_item rows of client 7 txn 7 with val 0: expected none, found 1"));
    // The changed row: its val is no transaction's number.
    std::string row_now = direct.value(
        "SELECT 'client ' || client || ' txn ' || txn || ' with val ' || val FROM fault_item "
        "WHERE (client, txn, k) = (" +
            changed + ")",
        patience());
    CHECK(mentions(seen, "fault_item rows of " + row_now + ": expected none, found 1"));
}
