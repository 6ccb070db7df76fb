#include "ledger_check.h"

#include <map>
#include <set>
#include <tuple>

#include "fault_support.h"

namespace pgrev::it::faults {

namespace {

constexpr std::size_t kMaxProblems = 30;

using Txn = std::pair<int, int>;  // client, transaction
std::string name_of(const Txn& t) {
    return "client " + std::to_string(t.first) + " txn " + std::to_string(t.second);
}

int int_at(const PGresult* r, int row, int col) {
    return std::stoi(PQgetvalue(r, row, col));
}

struct Marker {
    int updated = 0;  // 0: none (transactions count from 1)
    int deleted = 0;
};

// What the database holds, read in four set-based queries.
struct Observed {
    std::map<Txn, Marker> markers;
    std::map<Txn, std::pair<int, int>> marker_revs;         // (upserts, deletes) in fault_txn_rev
    std::map<Txn, int> item_inserts;                        // revisions with val 0
    std::map<std::tuple<int, int, int>, int> item_updates;  // (client, updater, target)
    std::map<Txn, int> item_deletes;
    std::map<std::tuple<int, int, int>, int> rows;  // (client, txn, val) -> current rows
};

Observed observe(PgConn& conn) {
    Observed o;
    PgResult markers = conn.run_one(
        "SELECT client, txn, coalesce(updated, 0), coalesce(deleted, 0) FROM fault_txn",
        patience());
    for (int r = 0; r < PQntuples(markers.get()); ++r) {
        o.markers[{int_at(markers.get(), r, 0), int_at(markers.get(), r, 1)}] = {
            int_at(markers.get(), r, 2), int_at(markers.get(), r, 3)};
    }
    PgResult marker_revs = conn.run_one(
        "SELECT client, txn, count(*) FILTER (WHERE NOT rev_isdelete), "
        "count(*) FILTER (WHERE rev_isdelete) FROM fault_txn_rev GROUP BY 1, 2",
        patience());
    for (int r = 0; r < PQntuples(marker_revs.get()); ++r) {
        o.marker_revs[{int_at(marker_revs.get(), r, 0), int_at(marker_revs.get(), r, 1)}] = {
            int_at(marker_revs.get(), r, 2), int_at(marker_revs.get(), r, 3)};
    }
    PgResult item_revs = conn.run_one(
        "SELECT client, txn, rev_isdelete::int, coalesce(val, -1), count(*) FROM fault_item_rev "
        "GROUP BY 1, 2, 3, 4",
        patience());
    for (int r = 0; r < PQntuples(item_revs.get()); ++r) {
        const PGresult* res = item_revs.get();
        int client = int_at(res, r, 0);
        int txn = int_at(res, r, 1);
        int val = int_at(res, r, 3);
        int n = int_at(res, r, 4);
        if (int_at(res, r, 2) == 1) {
            o.item_deletes[{client, txn}] += n;
        } else if (val == 0) {
            o.item_inserts[{client, txn}] += n;
        } else {
            o.item_updates[{client, val, txn}] += n;
        }
    }
    PgResult rows = conn.run_one(
        "SELECT client, txn, val, count(*) FROM fault_item GROUP BY 1, 2, 3", patience());
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
        o.rows[{int_at(rows.get(), r, 0), int_at(rows.get(), r, 1), int_at(rows.get(), r, 2)}] =
            int_at(rows.get(), r, 3);
    }
    return o;
}

// What the database must hold if exactly the transactions with a marker committed.
Observed expected_from(const std::map<Txn, Marker>& markers) {
    Observed e;
    e.markers = markers;
    std::set<Txn> deleted;
    std::map<Txn, int> last_update;  // the highest updater of a transaction's rows
    for (const auto& [txn, m] : markers) {
        e.marker_revs[txn] = {1, 0};
        e.item_inserts[txn] = kItems;
        if (m.updated > 0) {
            e.item_updates[{txn.first, txn.second, m.updated}] = kItems;
            int& last = last_update[{txn.first, m.updated}];
            last = std::max(last, txn.second);
        }
        if (m.deleted > 0) {
            e.item_deletes[{txn.first, m.deleted}] += kItems;
            deleted.insert({txn.first, m.deleted});
        }
    }
    for (const auto& [txn, m] : markers) {
        if (deleted.count(txn) > 0) continue;
        auto updater = last_update.find(txn);
        int val = updater == last_update.end() ? 0 : updater->second;
        e.rows[{txn.first, txn.second, val}] = kItems;
    }
    return e;
}

template <typename Key, typename Value>
void compare(const std::map<Key, Value>& expected, const std::map<Key, Value>& actual,
             const std::string& what, const std::function<std::string(const Key&)>& describe,
             const std::function<std::string(const Value&)>& show,
             std::vector<std::string>& problems) {
    std::set<Key> keys;
    for (const auto& [k, v] : expected)
        keys.insert(k);
    for (const auto& [k, v] : actual)
        keys.insert(k);
    for (const Key& k : keys) {
        auto e = expected.find(k);
        auto a = actual.find(k);
        if (e != expected.end() && a != actual.end() && e->second == a->second) continue;
        if (problems.size() >= kMaxProblems) return;
        problems.push_back(what + " of " + describe(k) + ": expected " +
                           (e == expected.end() ? "none" : show(e->second)) + ", found " +
                           (a == actual.end() ? "none" : show(a->second)));
    }
}

std::string n_text(const int& n) {
    return std::to_string(n);
}

}  // namespace

std::string LedgerVerdict::summary() const {
    return std::to_string(committed) + " committed, " + std::to_string(in_doubt_there) +
           " with COMMIT in flight that committed, " + std::to_string(in_doubt_absent) +
           " with COMMIT in flight that did not, " + std::to_string(absent) + " never committed";
}

LedgerVerdict check_against_ledger(PgConn& conn, const Ledger& ledger) {
    LedgerVerdict verdict;
    Observed actual = observe(conn);
    const auto states = ledger.snapshot();
    for (const auto& [txn, state] : states) {
        bool there = actual.markers.count(txn) > 0;
        switch (state) {
            case TxnState::Committed:
                if (there) ++verdict.committed;
                if (!there) {
                    verdict.problems.push_back(name_of(txn) +
                                               ": the client saw COMMIT succeed, but it is not "
                                               "in fault_txn");
                }
                break;
            case TxnState::CommitSent:
                ++(there ? verdict.in_doubt_there : verdict.in_doubt_absent);
                break;
            case TxnState::Begun:
            case TxnState::RolledBack:
                if (!there) ++verdict.absent;
                if (there) {
                    verdict.problems.push_back(name_of(txn) + ": " + state_name(state) +
                                               " (COMMIT never sent or refused), but it is in "
                                               "fault_txn");
                }
                break;
        }
    }
    for (const auto& [txn, marker] : actual.markers) {
        if (states.count(txn) == 0)
            verdict.problems.push_back(name_of(txn) + ": in fault_txn, but no client began it");
    }
    // Wholly there or wholly absent: what the markers say was done, and nothing else.
    Observed expected = expected_from(actual.markers);
    auto txn_name = std::function<std::string(const Txn&)>(name_of);
    auto count_text = std::function<std::string(const int&)>(n_text);
    auto pair_text =
        std::function<std::string(const std::pair<int, int>&)>([](const std::pair<int, int>& p) {
            return std::to_string(p.first) + " upserts, " + std::to_string(p.second) + " deletes";
        });
    auto triple = [](const char* second, const char* third) {
        return std::function<std::string(const std::tuple<int, int, int>&)>(
            [second, third](const std::tuple<int, int, int>& k) {
                return "client " + std::to_string(std::get<0>(k)) + " " + second + " " +
                       std::to_string(std::get<1>(k)) + " " + third + " " +
                       std::to_string(std::get<2>(k));
            });
    };
    compare(expected.marker_revs, actual.marker_revs, "fault_txn_rev rows", txn_name, pair_text,
            verdict.problems);
    compare(expected.item_inserts, actual.item_inserts, "insert revisions (val 0)", txn_name,
            count_text, verdict.problems);
    compare(expected.item_updates, actual.item_updates, "update revisions",
            triple("by txn", "of the rows of txn"), count_text, verdict.problems);
    compare(expected.item_deletes, actual.item_deletes, "delete revisions", txn_name, count_text,
            verdict.problems);
    compare(expected.rows, actual.rows, "fault_item rows", triple("txn", "with val"), count_text,
            verdict.problems);
    if (verdict.problems.size() > kMaxProblems) verdict.problems.resize(kMaxProblems);
    return verdict;
}

}  // namespace pgrev::it::faults
