// `pgrev verify` and `pgrev baseline` (server/history_command.cpp), the binary run as a user
// would, against a database of its own: what writes through pgrev leave passes; what bypassed
// pgrev (a direct write, a foreign-key cascade, a revision deleted by hand, rows that predate
// auditing) is found and named; baseline records those rows once, racing no write.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "audit_support.h"
#include "raw_client.h"

using namespace pgrev::it;
using namespace pgrev::it::audit_it;

namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

// A database `db` made by `schema_sql`, a pgrev auditing `audit` (YAML, as audit:) in front of
// it, and a configuration file for the commands. Dropped again at the end.
class HistoryDb {
  public:
    HistoryDb(std::string db, const std::string& schema_sql, const std::string& audit)
        : db_(std::move(db)),
          drop_("DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)", "postgres") {
        TestEnv& env = TestEnv::get();
        PgConn admin = connect_direct("postgres", "postgres");
        exec(admin, "DROP DATABASE IF EXISTS " + db_ + " WITH (FORCE)");
        exec(admin, "CREATE DATABASE " + db_);
        PgConn c = connect_direct("postgres", db_);
        exec(c, schema_sql);
        PgrevOptions options = env.pgrev_options();
        options.audit = audit;
        config_path_ = env.cluster().dir() + "/verify-" + db_ + ".yaml";
        write_file(config_path_, pgrev_config_yaml(options, free_tcp_port()));
        pgrev_ = env.start_pgrev(options);
    }

    PgConn proxied() { return connect_via(pgrev_->port(), "postgres", db_); }
    PgConn direct() { return connect_direct("postgres", db_); }
    const std::string& config_path() const { return config_path_; }

    // `pgrev <command> --config FILE --database DB <extra...>`.
    CommandResult run(const std::string& command, std::vector<std::string> extra = {}) const {
        std::vector<std::string> argv = {pgrev_binary(), command,      "--config",
                                         config_path_,   "--database", db_};
        argv.insert(argv.end(), extra.begin(), extra.end());
        return run_command(argv, {}, std::chrono::seconds(60));
    }

  private:
    std::string db_;
    DirectCleanup drop_;  // after pgrev_ has stopped (members are destroyed in reverse)
    std::string config_path_;
    std::unique_ptr<PgrevProcess> pgrev_;
};

const char* const kAccounts =
    "CREATE TABLE acct (id int PRIMARY KEY, balance numeric, note text, doc json, at point, "
    "  score float8, tags text[]);"
    "CREATE TABLE ledger (region text, n int, v text, PRIMARY KEY (region, n))";

}  // namespace

TEST_CASE("verify passes after writes through pgrev, and names a write that bypassed it") {
    if (skip_without_pgrev()) return;
    HistoryDb h("vfy_basic", kAccounts, "{tables: [acct, ledger]}");
    PgConn app = h.proxied();
    // Values whose `=` says less than their text (-0, 1.0 vs 1.00) or that have no `=` at all.
    exec(app,
         "INSERT INTO acct VALUES (1, 1.0, 'a', '{\"k\": 1}', '(1,2)', -0, '{x,y}'),"
         " (2, 2.00, 'b', '[]', '(0,0)', 1e-300, NULL), (3, 3, NULL, NULL, NULL, 'NaN', '{}')");
    exec(app, "UPDATE acct SET balance = balance + 1, note = 'changed' WHERE id = 2");
    exec(app, "DELETE FROM acct WHERE id = 3");
    exec(app, "INSERT INTO acct (id, balance) VALUES (3, 30)");  // a key again after its delete
    exec(app,
         "BEGIN; UPDATE acct SET score = 0.1 WHERE id = 1; UPDATE acct SET score = 0.2 "
         "WHERE id = 1; COMMIT");  // two revisions of one key in one transaction
    exec(app, "INSERT INTO ledger VALUES ('eu', 1, 'x'), ('eu', 2, 'y'), ('us', 1, 'z')");
    exec(app, "DELETE FROM ledger WHERE region = 'eu' AND n = 2");

    CommandResult ok = h.run("verify");
    INFO(ok.describe());
    CHECK(ok.exit_status == 0);
    CHECK(contains(ok.out, "vfy_basic: public.acct: consistent"));
    CHECK(contains(ok.out, "vfy_basic: public.ledger: consistent"));
    CHECK(contains(ok.out, "pgrev verify: no discrepancies; 2 tables checked, in 1 database"));

    PgConn direct = h.direct();
    exec(direct, "UPDATE acct SET note = 'behind pgrev', doc = '{\"k\":  1}' WHERE id = 1");
    exec(direct, "INSERT INTO acct (id) VALUES (9)");
    exec(direct, "DELETE FROM acct WHERE id = 2");
    exec(direct, "UPDATE ledger SET v = 'w' WHERE region = 'us'");
    exec(direct, "INSERT INTO ledger VALUES ('eu', 2, 'y')");  // its latest revision: a delete
    CommandResult found = h.run("verify");
    INFO(found.describe());
    CHECK(found.exit_status == 1);
    CHECK(contains(found.out, "vfy_basic: public.acct: id=1: changed (note, doc)\n"));
    CHECK(contains(found.out, "vfy_basic: public.acct: id=9: no revision\n"));
    CHECK(contains(found.out, "vfy_basic: public.acct: id=2: missing row\n"));
    CHECK(contains(found.out, "vfy_basic: public.ledger: region=us, n=1: changed (v)\n"));
    CHECK(contains(found.out, "vfy_basic: public.ledger: region=eu, n=2: deleted but present\n"));
    CHECK(contains(found.out,
                   "vfy_basic: public.acct: 3 discrepancies: 1 changed, 1 missing "
                   "row, 1 no revision"));
    CHECK(contains(found.out, "pgrev verify: 5 discrepancies in 2 of the tables"));
    CHECK(contains(found.out, "hint: rows with no revision at all"));
    CHECK(contains(found.out, "pgrev baseline --config " + h.config_path()));

    // --table: only the one named (as audit.tables names it).
    CommandResult one = h.run("verify", {"--table", "public.LEDGER"});
    INFO(one.describe());
    CHECK(one.exit_status == 1);
    CHECK_FALSE(contains(one.out, "public.acct"));
    CHECK(contains(one.out, "pgrev verify: 2 discrepancies in 1 of the tables; 1 table checked"));
    CommandResult unknown = h.run("verify", {"--table", "nosuch"});
    CHECK(unknown.exit_status == 2);
    CHECK(contains(unknown.err, "--table nosuch: public.nosuch is not in audit.tables of"));
}

TEST_CASE("verify finds a foreign-key cascade and a revision deleted by hand") {
    if (skip_without_pgrev()) return;
    HistoryDb h("vfy_cascade",
                "CREATE TABLE parent (id int PRIMARY KEY);"
                "CREATE TABLE child (id int PRIMARY KEY, "
                "  parent_id int REFERENCES parent ON DELETE CASCADE, v text)",
                "{tables: [child]}");
    PgConn app = h.proxied();
    exec(app, "INSERT INTO parent VALUES (1), (2)");
    exec(app, "INSERT INTO child VALUES (10, 1, 'a'), (11, 1, 'b'), (20, 2, 'c')");
    exec(app, "UPDATE child SET v = 'c2' WHERE id = 20");
    exec(app, "INSERT INTO child VALUES (30, 2, 'd')");
    exec(app, "DELETE FROM child WHERE id = 30");
    CHECK(h.run("verify").exit_status == 0);

    exec(app, "DELETE FROM parent WHERE id = 1");  // the server deletes children 10 and 11
    PgConn direct = h.direct();
    // The latest revision of 20 gone: its older one no longer equals the row.
    exec(direct, "DELETE FROM child_rev WHERE id = 20 AND v = 'c2'");
    // The delete revision of 30 gone: its insert says it should be there.
    exec(direct, "DELETE FROM child_rev WHERE id = 30 AND rev_isdelete");
    CommandResult r = h.run("verify");
    INFO(r.describe());
    CHECK(r.exit_status == 1);
    CHECK(contains(r.out, "vfy_cascade: public.child: id=10: missing row\n"));
    CHECK(contains(r.out, "vfy_cascade: public.child: id=11: missing row\n"));
    CHECK(contains(r.out, "vfy_cascade: public.child: id=20: changed (v)\n"));
    CHECK(contains(r.out, "vfy_cascade: public.child: id=30: missing row\n"));
    CHECK(contains(r.out, "hint: a missing row was deleted without pgrev (a foreign-key cascade"));
}

TEST_CASE("rows that predate auditing: verify hints at baseline, which records them once") {
    if (skip_without_pgrev()) return;
    // Rows inserted before pgrev audits the tables: no revisions at all.
    HistoryDb h("vfy_baseline",
                "CREATE TABLE early (id int PRIMARY KEY, v text);"
                "INSERT INTO early SELECT g, 'v' || g FROM generate_series(1, 3) g;"
                "CREATE TABLE early_log (a int, b text);"
                "INSERT INTO early_log VALUES (1, 'x'), (1, 'x'), (2, NULL)",
                "{tables: [early, early_log]}");
    PgConn app = h.proxied();
    exec(app, "INSERT INTO early VALUES (4, 'new')");
    exec(app, "UPDATE early SET v = 'two' WHERE id = 2");  // a revision now: not baselined
    exec(app, "INSERT INTO early_log VALUES (1, 'x')");    // one of three copies recorded

    CommandResult before = h.run("verify");
    INFO(before.describe());
    CHECK(before.exit_status == 1);
    CHECK(contains(before.out, "vfy_baseline: public.early: id=1: no revision\n"));
    CHECK(contains(before.out, "vfy_baseline: public.early: id=3: no revision\n"));
    CHECK_FALSE(contains(before.out, "id=2:"));
    CHECK(contains(before.out,
                   "vfy_baseline: public.early_log: a=1, b=x: more often than recorded (3 in "
                   "the table, 1 recorded)\n"));
    CHECK(contains(before.out,
                   "vfy_baseline: public.early_log: a=2, b=NULL: no revision (1 in "
                   "the table, 0 recorded)\n"));
    CHECK(contains(before.out, "hint: rows with no revision at all"));

    CommandResult first = h.run("baseline");
    INFO(first.describe());
    CHECK(first.exit_status == 0);
    CHECK(contains(first.out, "vfy_baseline: public.early: recorded 2 revisions"));
    CHECK(contains(first.out, "vfy_baseline: public.early_log: recorded 3 revisions"));
    PgConn direct = h.direct();
    CHECK(rows(direct,
               "SELECT id, v, rev_isdelete FROM early_rev WHERE id IN (1, 3) ORDER BY "
               "id") == std::vector<std::string>{"1|v1|f", "3|v3|f"});
    CommandResult after = h.run("verify");
    INFO(after.describe());
    CHECK(after.exit_status == 0);
    CommandResult again = h.run("baseline");
    CHECK(again.exit_status == 0);
    CHECK(contains(again.out, "pgrev baseline: recorded 0 revisions; 2 tables checked"));
}

TEST_CASE("baseline waits for a write in flight instead of racing it") {
    if (skip_without_pgrev()) return;
    HistoryDb h("vfy_race",
                "CREATE TABLE racy (id int PRIMARY KEY, v text);"
                "INSERT INTO racy VALUES (1, 'old')",
                "{tables: [racy]}");
    PgConn app = h.proxied();
    // An UPDATE through pgrev, not committed yet: its revision is not visible to baseline's
    // snapshot. Without the SHARE lock, baseline would record 'old' after it, as the latest.
    exec(app, "BEGIN; UPDATE racy SET v = 'new' WHERE id = 1");
    CommandResult baseline;
    std::thread runner([&] { baseline = h.run("baseline"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    exec(app, "COMMIT");
    runner.join();
    INFO(baseline.describe());
    CHECK(baseline.exit_status == 0);
    CHECK(contains(baseline.out, "recorded 0 revisions"));
    CommandResult r = h.run("verify");
    INFO(r.describe());
    CHECK(r.exit_status == 0);
}

TEST_CASE("verify of mixed-case names, and of every database that has the table") {
    if (skip_without_pgrev()) return;
    const char* schema =
        "CREATE SCHEMA \"Billing\";"
        "CREATE TABLE \"Billing\".\"Invoice\" (\"InvoiceId\" int PRIMARY KEY, \"Amount\" int, "
        "  plain text)";
    const char* audit = "{tables: ['\"Billing\".\"Invoice\"']}";
    HistoryDb a("vfy_case_a", schema, audit);
    HistoryDb b("vfy_case_b", schema, audit);
    PgConn app = a.proxied();
    exec(app, "INSERT INTO \"Billing\".\"Invoice\" VALUES (1, 10, 'x'), (2, 20, 'y')");
    PgConn direct = b.direct();
    exec(direct, "INSERT INTO \"Billing\".\"Invoice\" VALUES (7, 70, 'z')");
    CommandResult only_a = a.run("verify", {"--table", "\"Billing\".\"Invoice\""});
    INFO(only_a.describe());
    CHECK(only_a.exit_status == 0);
    CHECK(contains(only_a.out, "vfy_case_a: \"Billing\".\"Invoice\": consistent"));
    CHECK_FALSE(contains(only_a.out, "vfy_case_b"));  // --database: that one only

    PgConn direct_a = a.direct();
    exec(direct_a, "UPDATE \"Billing\".\"Invoice\" SET \"Amount\" = 11 WHERE \"InvoiceId\" = 1");
    // No --database: every database that allows connections; those without the table are
    // passed over.
    CommandResult all = run_command({pgrev_binary(), "verify", "--config", a.config_path()}, {},
                                    std::chrono::seconds(60));
    INFO(all.describe());
    CHECK(all.exit_status == 1);
    CHECK(contains(all.out,
                   "vfy_case_a: \"Billing\".\"Invoice\": \"InvoiceId\"=1: changed "
                   "(\"Amount\")\n"));
    CHECK(contains(all.out,
                   "vfy_case_b: \"Billing\".\"Invoice\": \"InvoiceId\"=7: no "
                   "revision\n"));
    CHECK(contains(all.out, "pgrev verify: 2 discrepancies in 2 of the tables; 2 tables checked"));
}

TEST_CASE("verify reads a partitioned table through its parent") {
    if (skip_without_pgrev()) return;
    HistoryDb h("vfy_part",
                "CREATE TABLE part (id int, region text, v text, PRIMARY KEY (id, region)) "
                "  PARTITION BY LIST (region);"
                "CREATE TABLE part_eu PARTITION OF part FOR VALUES IN ('eu');"
                "CREATE TABLE part_us PARTITION OF part FOR VALUES IN ('us')",
                "{tables: [part]}");
    PgConn app = h.proxied();
    exec(app, "INSERT INTO part VALUES (1, 'eu', 'a'), (1, 'us', 'b'), (2, 'us', 'c')");
    exec(app, "UPDATE part SET v = v || '2' WHERE id = 1");
    exec(app, "DELETE FROM part WHERE id = 2");
    CommandResult ok = h.run("verify");
    INFO(ok.describe());
    CHECK(ok.exit_status == 0);
    PgConn direct = h.direct();
    exec(direct, "UPDATE part_us SET v = 'behind' WHERE id = 1");
    CommandResult found = h.run("verify");
    INFO(found.describe());
    CHECK(found.exit_status == 1);
    CHECK(contains(found.out, "vfy_part: public.part: id=1, region=us: changed (v)\n"));
    CHECK(contains(found.out, "pgrev verify: 1 discrepancy in 1 of the tables"));
}

TEST_CASE("verify says when it could not check: no server, no revision table, bad arguments") {
    if (skip_without_pgrev()) return;
    TestEnv& env = TestEnv::get();
    PgrevOptions options = env.pgrev_options();
    options.audit = "{tables: [acct]}";
    options.upstream_port = free_tcp_port();  // nothing listens there
    std::string down = env.cluster().dir() + "/verify-down.yaml";
    write_file(down, pgrev_config_yaml(options, free_tcp_port()));
    CommandResult r =
        run_command({pgrev_binary(), "verify", "--config", down}, {}, std::chrono::seconds(60));
    INFO(r.describe());
    CHECK(r.exit_status == 2);
    CHECK(contains(r.err, "pgrev verify: cannot connect as admin role \"postgres\""));

    CommandResult no_config = run_command({pgrev_binary(), "verify"}, {}, std::chrono::seconds(10));
    CHECK(no_config.exit_status == 2);
    CHECK(contains(no_config.err, "use --config FILE"));
    CommandResult odd = run_command({pgrev_binary(), "baseline", "--config", down, "--frobnicate"},
                                    {}, std::chrono::seconds(10));
    CHECK(odd.exit_status == 2);
    CHECK(contains(odd.err, "'--frobnicate'"));

    // A table audited but without its revision table (created behind a running pgrev's back).
    HistoryDb h("vfy_norev", "CREATE TABLE present (id int PRIMARY KEY)",
                "{tables: [present, later]}");
    PgConn direct = h.direct();
    exec(direct, "CREATE TABLE later (id int PRIMARY KEY)");
    CommandResult norev = h.run("verify");
    INFO(norev.describe());
    CHECK(norev.exit_status == 2);
    CHECK(contains(norev.err, "public.later: its revision table public.later_rev does not exist"));
    CHECK(contains(norev.out, "vfy_norev: public.present: consistent"));
}

TEST_CASE("verify run while writes go through pgrev reports nothing") {
    if (skip_without_pgrev()) return;
    HistoryDb h("vfy_busy", "CREATE TABLE busy (id int PRIMARY KEY, n int)", "{tables: [busy]}");
    std::atomic<bool> stop{false};
    std::string writer_error;
    std::thread writer([&] {
        try {
            PgConn app = h.proxied();
            for (int i = 0; !stop; ++i) {
                exec(app,
                     "BEGIN; INSERT INTO busy VALUES (" + std::to_string(i) +
                         ", 0); UPDATE busy SET n = n + 1 WHERE id % 7 = " + std::to_string(i % 7) +
                         "; DELETE FROM busy WHERE id = " + std::to_string(i - 5) + "; COMMIT");
            }
        } catch (const std::exception& e) {
            writer_error = e.what();
        }
    });
    for (int round = 0; round < 5; ++round) {
        CommandResult r = h.run("verify");
        INFO(r.describe());
        CHECK(r.exit_status == 0);
    }
    stop = true;
    writer.join();
    CHECK(writer_error.empty());
    PgConn direct = h.direct();
    CHECK(count(direct, "SELECT count(*) FROM busy_rev") > 10);
}
