// pgbench through pgrev: its own schema set-up (which uses COPY), then the TPC-B-like
// workload with each query protocol, and a pipelined custom script; no transaction may fail.
#include <doctest/doctest.h>

#include <cstdlib>

#include "child_process.h"
#include "pg_cluster.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

CommandResult pgbench(const std::vector<std::string>& args, std::chrono::seconds timeout) {
    TestEnv& env = TestEnv::get();
    std::vector<std::string> argv = {pg_bindir() + "/pgbench",         "-h", "127.0.0.1", "-p",
                                     std::to_string(env.proxy_port()), "-U", "postgres"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("app");
    return run_command(argv, {"PGHOST=127.0.0.1", "PGAPPNAME=pgbench"}, timeout);
}

void check_no_failures(const CommandResult& run, int transactions) {
    std::string processed =
        "number of transactions actually processed: " + std::to_string(transactions) + "/" +
        std::to_string(transactions);
    CHECK_MESSAGE(run.exit_status == 0, run.describe());
    CHECK_MESSAGE(run.out.find("number of failed transactions: 0 ") != std::string::npos,
                  run.describe());
    CHECK_MESSAGE(run.out.find(processed) != std::string::npos, run.describe());
}

}  // namespace

TEST_CASE("pgbench initializes and runs through pgrev in every query mode without failures") {
    CommandResult init = pgbench({"-i", "-s", "1", "-q"}, std::chrono::seconds(60));
    REQUIRE_MESSAGE(init.exit_status == 0, init.describe());
    CHECK_MESSAGE(init.err.find("done in") != std::string::npos, init.describe());

    for (std::string mode : {"simple", "extended", "prepared"}) {
        CAPTURE(mode);
        CommandResult run = pgbench({"-M", mode, "-c", "4", "-j", "2", "-t", "1000", "-n"},
                                    std::chrono::seconds(60));
        check_no_failures(run, 4000);
        if (std::getenv("PGREV_TEST_VERBOSE") != nullptr) MESSAGE(run.out);
    }

    // A pipelined custom script (pgbench sends it with the extended protocol).
    std::string script = TestEnv::get().cluster().dir() + "/pgbench-pipeline.sql";
    write_file(script,
               "\\set aid random(1, 100000 * :scale)\n"
               "\\set delta random(-5000, 5000)\n"
               "\\startpipeline\n"
               "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
               "UPDATE pgbench_accounts SET abalance = abalance + :delta WHERE aid = :aid;\n"
               "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
               "\\endpipeline\n");
    for (std::string mode : {"extended", "prepared"}) {
        CAPTURE(mode);
        check_no_failures(
            pgbench({"-M", mode, "-c", "4", "-j", "2", "-t", "500", "-n", "-f", script},
                    std::chrono::seconds(60)),
            2000);
    }
}
