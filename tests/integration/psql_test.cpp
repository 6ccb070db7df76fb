// psql through pgrev: one script with psql's own machinery (meta-commands, COPY from the
// script and \copy from a file, \gset, \gdesc, \gexec, \if, errors that do not stop it)
// prints exactly the same on stdout and stderr directly and through pgrev.
#include <doctest/doctest.h>

#include "child_process.h"
#include "pg_cluster.h"
#include "result_text.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

const char* const kScript = R"SQL(
SET client_min_messages = warning;
DROP TABLE IF EXISTS psql_demo;
RESET client_min_messages;
CREATE TABLE psql_demo (id int PRIMARY KEY, name text, amount numeric(10,2), seen date);
INSERT INTO psql_demo VALUES (1, 'alpha', 10.50, '2024-01-01'), (2, 'beta', NULL, '2024-02-29');
COPY psql_demo FROM STDIN;
3	gamma	7.25	2024-03-03
4	delta	\N	\N
\.
\copy psql_demo FROM 'DATAFILE' WITH (FORMAT csv)
SELECT * FROM psql_demo ORDER BY id;
\x on
SELECT * FROM psql_demo WHERE id = 1;
\x off
\pset format unaligned
SELECT id, name FROM psql_demo ORDER BY id DESC;
\pset format aligned
SELECT count(*) AS n, sum(amount) AS total, count(*) > 0 AS nonempty FROM psql_demo \gset
\echo rows: :n total: :total
SELECT id, name, amount FROM psql_demo WHERE id > 1 \gdesc
SELECT format('SELECT %L AS generated', name) FROM psql_demo WHERE id <= 2 ORDER BY id \gexec
\if :nonempty
\echo the table is not empty
\else
\echo the table is empty
\endif
SELECT 1/0;
SELEC broken;
\set VERBOSITY verbose
SELECT * FROM no_such_table;
\set VERBOSITY default
DO $$BEGIN RAISE NOTICE 'a notice from psql'; END$$;
BEGIN;
INSERT INTO psql_demo VALUES (1, 'duplicate');
SELECT 'ignored';
ROLLBACK;
PREPARE psql_plan(int) AS SELECT name FROM psql_demo WHERE id = $1;
EXECUTE psql_plan(3);
\copy (SELECT id, name FROM psql_demo ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)
SELECT id, name, seen FROM psql_demo ORDER BY id \crosstabview id name seen
\d psql_demo
\dt psql_*
SELECT E'multi\nline', repeat('w', 120) AS wide;
\errverbose
DROP TABLE psql_demo;
\echo psql script finished
)SQL";

CommandResult run_psql(std::uint16_t port, const std::string& script) {
    return run_command({pg_bindir() + "/psql", "-X", "-v", "ON_ERROR_STOP=0", "-h", "127.0.0.1",
                        "-p", std::to_string(port), "-U", "postgres", "-d", "app", "-f", script},
                       {"PGAPPNAME=psql", "PGTZ=UTC", "PGDATESTYLE=ISO"}, std::chrono::seconds(30));
}

}  // namespace

TEST_CASE("a psql script prints the same directly and through pgrev") {
    TestEnv& env = TestEnv::get();
    std::string dir = env.cluster().dir();
    std::string data_file = dir + "/psql-data.csv";
    write_file(data_file, "5,epsilon,1.00,2024-05-05\n6,\"zeta, quoted\",,\n");
    std::string script_text = kScript;
    script_text.replace(script_text.find("DATAFILE"), 8, data_file);
    std::string script = dir + "/psql-script.sql";
    write_file(script, script_text);

    CommandResult direct = run_psql(env.cluster().port(), script);
    CommandResult proxied = run_psql(env.proxy_port(), script);

    CHECK_MESSAGE(direct.exit_status == 0, direct.describe());
    CHECK_MESSAGE(direct.out.find("psql script finished") != std::string::npos, direct.describe());
    CHECK_MESSAGE(direct.err.find("division by zero") != std::string::npos, direct.describe());
    CHECK(proxied.exit_status == direct.exit_status);
    check_same("psql stdout", direct.out, proxied.out);
    check_same("psql stderr", mask_ports(direct.err), mask_ports(proxied.err));
    if (std::getenv("PGREV_TEST_VERBOSE") != nullptr) MESSAGE(direct.describe());
}

TEST_CASE("psql -c with several statements gives the same output through pgrev") {
    TestEnv& env = TestEnv::get();
    auto run = [](std::uint16_t port) {
        return run_command({pg_bindir() + "/psql", "-X", "-h", "127.0.0.1", "-p",
                            std::to_string(port), "-U", "postgres", "-d", "app", "-c",
                            "SELECT 1 AS a; SELECT 2 AS b; SELECT 1/0; SELECT 3 AS c"},
                           {}, std::chrono::seconds(30));
    };
    CommandResult direct = run(env.cluster().port());
    CommandResult proxied = run(env.proxy_port());
    CHECK(direct.exit_status == 1);
    CHECK(proxied.exit_status == direct.exit_status);
    check_same("psql -c stdout", direct.out, proxied.out);
    check_same("psql -c stderr", direct.err, proxied.err);
}
