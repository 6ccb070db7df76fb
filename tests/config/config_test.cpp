#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "config/config.h"
#include "tests/config/config_test_support.h"

using namespace pgrev::config;
using namespace pgrev::config::testing;
using namespace std::chrono_literals;

TEST_SUITE("config") {
    TEST_CASE("a file with every key") {
        const Config c = load(R"(# pgrev
listen: 0.0.0.0:7432
upstream: db.internal:5433
admin:
  user: pgrev_admin
  password_env: PGREV_ADMIN_PASSWORD
audit:
  tables:
    - reservation
    - {name: billing.invoice, delete: full_row}
  create_rev_tables: false
limits:
  max_clients: 50
  max_message_size: 16MB
  startup_timeout: 1500ms
  idle_timeout: 10min
log:
  level: debug
workers: 4
)");
        CHECK(c.listen.host == "0.0.0.0");
        CHECK(c.listen.port == 7432);
        CHECK(c.upstream.to_string() == "db.internal:5433");
        CHECK(c.admin.user == "pgrev_admin");
        CHECK(c.admin.password_env == "PGREV_ADMIN_PASSWORD");
        REQUIRE(c.audit.tables.size() == 2);
        CHECK(c.audit.tables[0].qualified_name() == "public.reservation");
        CHECK(c.audit.tables[0].on_delete == DeleteRecord::KeyOnly);
        CHECK(c.audit.tables[1].schema == "billing");
        CHECK(c.audit.tables[1].name == "invoice");
        CHECK(c.audit.tables[1].on_delete == DeleteRecord::FullRow);
        CHECK_FALSE(c.audit.create_rev_tables);
        CHECK(c.limits.max_clients == 50);
        CHECK(c.limits.max_message_size == 16u * 1024 * 1024);
        CHECK(c.limits.startup_timeout == 1500ms);
        CHECK(c.limits.idle_timeout == 10min);
        CHECK(c.log_level == LogLevel::Debug);
        CHECK(c.workers == 4);
    }

    TEST_CASE("a file with only upstream takes the defaults") {
        const Config c = load("upstream: 127.0.0.1:5432\n");
        CHECK(c.listen.to_string() == "127.0.0.1:6432");
        CHECK(c.upstream.to_string() == "127.0.0.1:5432");
        CHECK(c.admin.user == "postgres");
        CHECK(c.admin.password_env.empty());
        CHECK(c.audit.tables.empty());
        CHECK(c.audit.create_rev_tables);
        CHECK(c.limits.max_clients == 1000);
        CHECK(c.limits.max_message_size == 64u * 1024 * 1024);
        CHECK(c.limits.startup_timeout == 60s);
        CHECK(c.limits.idle_timeout == 0ms);
        CHECK(c.log_level == LogLevel::Info);
        CHECK(c.workers == 0);
    }

    TEST_CASE("empty sections mean defaults") {
        const Config c = load("upstream: h:1\naudit:\nlimits:\n  # max_clients: 5\nlog:\n");
        CHECK(c.limits.max_clients == 1000);
        CHECK(c.audit.tables.empty());
    }

    TEST_CASE("units of sizes and durations") {
        auto limits = [](const std::string& body) {
            return load("upstream: h:1\nlimits:\n" + body).limits;
        };
        CHECK(limits("  max_message_size: 1024").max_message_size == 1024);
        CHECK(limits("  max_message_size: 2048B").max_message_size == 2048);
        CHECK(limits("  max_message_size: 1kB").max_message_size == 1024);
        CHECK(limits("  max_message_size: 8 MB").max_message_size == 8u << 20);
        CHECK(limits("  max_message_size: 1GB").max_message_size == 1u << 30);
        CHECK(limits("  startup_timeout: 5").startup_timeout == 5s);
        CHECK(limits("  startup_timeout: 5s").startup_timeout == 5s);
        CHECK(limits("  startup_timeout: 2min").startup_timeout == 2min);
        CHECK(limits("  idle_timeout: 1h").idle_timeout == 1h);
        CHECK(limits("  idle_timeout: 0").idle_timeout == 0ms);
    }

    TEST_CASE("table names: plain, schema-qualified, quoted, folded") {
        const Config c = load(R"(upstream: h:1
audit:
  tables:
    - Reservation
    - Billing.Invoice
    - '"MixedCase"'
    - '"odd.schema"."a ""b"""'
    - name: sales.order_line
    - {name: '"Audit".entry', delete: key_only}
)");
        REQUIRE(c.audit.tables.size() == 6);
        CHECK(c.audit.tables[0].schema == "public");
        CHECK(c.audit.tables[0].name == "reservation");
        CHECK(c.audit.tables[1].schema == "billing");
        CHECK(c.audit.tables[1].name == "invoice");
        CHECK(c.audit.tables[2].name == "MixedCase");
        CHECK(c.audit.tables[2].qualified_name() == "public.\"MixedCase\"");
        CHECK(c.audit.tables[3].schema == "odd.schema");
        CHECK(c.audit.tables[3].name == "a \"b\"");
        CHECK(c.audit.tables[3].qualified_name() == "\"odd.schema\".\"a \"\"b\"\"\"");
        CHECK(c.audit.tables[4].qualified_name() == "sales.order_line");
        CHECK(c.audit.tables[4].on_delete == DeleteRecord::KeyOnly);
        CHECK(c.audit.tables[5].schema == "Audit");
        CHECK(c.audit.tables[5].on_delete == DeleteRecord::KeyOnly);
    }

    TEST_CASE("qualified_name reads back through parse_table_name") {
        for (const char* text : {"reservation", "s.t", "\"A\".\"b.c\"", "\"x\"\"y\"", "t$1"}) {
            const AuditedTable t = parse_table_name(text);
            const AuditedTable back = parse_table_name(t.qualified_name());
            CHECK(back.schema == t.schema);
            CHECK(back.name == t.name);
        }
    }

    TEST_CASE("bad table names") {
        CHECK_THROWS_AS(parse_table_name(""), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("a.b.c"), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("a."), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name(".a"), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("\"unclosed"), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("\"\""), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("\"a\"b"), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("my table"), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name("1abc"), std::invalid_argument);
        CHECK_THROWS_AS(parse_table_name(std::string(64, 'a')), std::invalid_argument);
        // The table's name leaves room for "_rev"; a schema may use all 63 bytes.
        CHECK_THROWS_AS(parse_table_name(std::string(60, 'a')), std::invalid_argument);
        CHECK_NOTHROW(parse_table_name(std::string(59, 'a')));
        CHECK_NOTHROW(parse_table_name(std::string(63, 's') + ".t"));
    }

    TEST_CASE("endpoints") {
        Endpoint e = parse_endpoint("127.0.0.1:5432");
        CHECK(e.host == "127.0.0.1");
        CHECK(e.port == 5432);
        e = parse_endpoint("db.example.com:65535");
        CHECK(e.to_string() == "db.example.com:65535");
        e = parse_endpoint("[::1]:5432");
        CHECK(e.host == "::1");
        CHECK(e.port == 5432);
        CHECK(e.to_string() == "[::1]:5432");
        for (const char* bad :
             {"", "localhost", "localhost:", ":5432", "h:0", "h:65536", "h:54x", "h:-1", "h:+1",
              "::1:5432", "[::1]", "[::1]5432", "[::1:5432", "[]:5432", "my host:5432"}) {
            INFO(bad);
            CHECK_THROWS_AS(parse_endpoint(bad), std::invalid_argument);
        }
        CHECK_THROWS_WITH(parse_endpoint("localhost"), doctest::Contains("missing port"));
        CHECK_THROWS_WITH(parse_endpoint("h:70000"), doctest::Contains("1 to 65535"));
        CHECK_THROWS_WITH(parse_endpoint("::1:5432"), doctest::Contains("brackets"));
    }

    TEST_CASE("an IPv6 endpoint in the file") {
        CHECK(load("upstream: '[::1]:5432'\n").upstream.host == "::1");
        check_error("upstream: [::1]:5432\n", "pgrev.yaml:1: ", "not valid YAML");
        check_error("listen: ['::1']\nupstream: h:1\n", "pgrev.yaml:1: listen: ", "\"[::1]:6432\"");
    }

    TEST_CASE("errors name the line and the key") {
        // Unknown keys, at every level, with the allowed keys listed.
        check_error("upstream: h:1\nlimit:\n  max_clients: 5\n", "pgrev.yaml:2: limit: ",
                    "unknown key; did you mean limits? allowed top-level keys: listen, upstream");
        check_error("upstream: h:1\nlimits:\n  max_clients: 5\n  max_client: 6\n",
                    "pgrev.yaml:4: limits.max_client: ", "max_clients, max_message_size");
        check_error("upstream: h:1\nadmin:\n  password: secret\n", "pgrev.yaml:3: admin.password: ",
                    "allowed keys under admin: user, password_env");
        check_error(
            "upstream: h:1\naudit:\n  tables:\n    - reservation\n    - {name: x, mode: y}\n",
            "pgrev.yaml:5: audit.tables[1].mode: ", "name, delete");
        check_error("upstream: h:1\nlog:\n  file: /tmp/x\n", "pgrev.yaml:3: log.file: ", "level");
        // Duplicate keys.
        check_error("upstream: h:1\nworkers: 1\nworkers: 2\n",
                    "pgrev.yaml:3: workers: ", "appears twice (first on line 2)");
        // Wrong types.
        check_error("upstream:\n  host: h\n", "pgrev.yaml:2: upstream: ", "got a map");
        check_error("upstream: h:1\nlisten:\n", "pgrev.yaml:2: listen: ", "got nothing");
        check_error("upstream: h:1\nlimits: 5\n", "pgrev.yaml:2: limits: ", "expected a map");
        check_error("upstream: h:1\nlimits:\n  max_clients: abc\n",
                    "pgrev.yaml:3: limits.max_clients: ", "whole number");
        check_error("upstream: h:1\nlimits:\n  max_clients: [1]\n",
                    "pgrev.yaml:3: limits.max_clients: ", "got a list");
        check_error("upstream: h:1\nworkers: -1\n", "pgrev.yaml:2: workers: ", "negative");
        check_error("upstream: h:1\nworkers: 2.5\n", "pgrev.yaml:2: workers: ", "whole number");
        check_error("upstream: h:1\naudit:\n  create_rev_tables: maybe\n",
                    "pgrev.yaml:3: audit.create_rev_tables: ", "true or false");
        check_error("upstream: h:1\nlog:\n  level: verbose\n",
                    "pgrev.yaml:3: log.level: ", "trace, debug, info, warn, error");
        check_error("upstream: h:1\naudit:\n  tables: reservation\n",
                    "pgrev.yaml:3: audit.tables: ", "expected a list");
        check_error(
            "upstream: h:1\naudit:\n  tables:\n    - a\n    - b\n    - {name: c, delete: all}\n",
            "pgrev.yaml:6: audit.tables[2].delete: ", "key_only or full_row");
        check_error("upstream: h:1\naudit:\n  tables:\n    - {delete: full_row}\n",
                    "pgrev.yaml:4: audit.tables[0]: ", "missing \"name\"");
        // Endpoints.
        check_error("upstream: localhost\n", "pgrev.yaml:1: upstream: ", "missing port");
        check_error("upstream: h:1\nlisten: 0.0.0.0:99999\n",
                    "pgrev.yaml:2: listen: ", "1 to 65535");
        check_error("upstream: h:0\n", "pgrev.yaml:1: upstream: ", "1 to 65535");
        // Missing upstream.
        CHECK(error_of("listen: 127.0.0.1:6432\n") ==
              "pgrev.yaml:1: upstream: required key is missing (host:port of PostgreSQL)");
    }

    TEST_CASE("errors in table lists") {
        const std::string head = "upstream: h:1\naudit:\n  tables:\n    - reservation\n";
        check_error(head + "    - ''\n", "pgrev.yaml:5: audit.tables[1]: ", "empty name");
        check_error(head + "    - a.b.c\n", "pgrev.yaml:5: audit.tables[1]: ", "more than one dot");
        check_error(head + "    - {name: a.b.c}\n",
                    "pgrev.yaml:5: audit.tables[1].name: ", "more than one dot");
        check_error(head + "    - Reservation\n", "pgrev.yaml:5: audit.tables[1]: ",
                    "public.reservation is listed twice (first on line 4)");
        check_error(head + "    - public.reservation\n",
                    "pgrev.yaml:5: audit.tables[1]: ", "listed twice");
        check_error(head + "    - reservation_rev\n",
                    "pgrev.yaml:5: audit.tables[1]: ", "revision table of public.reservation");
        check_error(head + "    - [a]\n", "pgrev.yaml:5: audit.tables[1]: ", "got a list");
        // Same name in another schema, or quoted differently, is another table.
        CHECK(
            load(head + "    - other.reservation\n    - '\"Reservation\"'\n").audit.tables.size() ==
            3);
    }

    TEST_CASE("limits are range-checked") {
        const std::string head = "upstream: h:1\nlimits:\n";
        check_error(head + "  max_clients: 0\n", "pgrev.yaml:3: limits.max_clients: ", "from 1 to");
        check_error(head + "  max_message_size: 1023\n",
                    "pgrev.yaml:3: limits.max_message_size: ", "between 1kB and 1GB");
        check_error(head + "  max_message_size: 2GB\n",
                    "pgrev.yaml:3: limits.max_message_size: ", "between 1kB and 1GB");
        check_error(head + "  max_message_size: 99999999999999999GB\n",
                    "pgrev.yaml:3: limits.max_message_size: ", "between 1kB and 1GB");
        check_error(head + "  max_message_size: 64mb\n",
                    "pgrev.yaml:3: limits.max_message_size: ", "units are B, kB, MB, GB");
        check_error(head + "  max_message_size: -5MB\n",
                    "pgrev.yaml:3: limits.max_message_size: ", "expected a size");
        check_error(head + "  startup_timeout: 0\n",
                    "pgrev.yaml:3: limits.startup_timeout: ", "more than 0");
        check_error(head + "  startup_timeout: 10d\n",
                    "pgrev.yaml:3: limits.startup_timeout: ", "ms, s, min, h");
        check_error(head + "  idle_timeout: 1000h\n",
                    "pgrev.yaml:3: limits.idle_timeout: ", "at most");
        check_error(head + "  idle_timeout: soon\n",
                    "pgrev.yaml:3: limits.idle_timeout: ", "expected a duration");
    }

    TEST_CASE("audit.allow switches and audit.trusted_routines") {
        const Config c = load(R"(upstream: h:1
audit:
  allow: [do_blocks, routine_definitions, routine_calls, triggers, rules, column_rewrites,
          partition_changes, rev_backfill, truncate]
  trusted_routines: [archive_old, billing."Close_Month"]
)");
        const Audit& a = c.audit;
        CHECK(a.allow_do_blocks);
        CHECK(a.allow_routine_definitions);
        CHECK(a.allow_routine_calls);
        CHECK(a.allow_triggers);
        CHECK(a.allow_rules);
        CHECK(a.allow_column_rewrites);
        CHECK(a.allow_partition_changes);
        CHECK(a.allow_rev_backfill);
        CHECK(a.allow_truncate);
        CHECK_FALSE(a.allow_merge);
        CHECK(a.is_trusted("public", "archive_old"));
        CHECK(a.is_trusted("billing", "Close_Month"));
        CHECK_FALSE(a.is_trusted("billing", "close_month"));
        CHECK_FALSE(a.is_trusted("other", "archive_old"));
        const Audit defaults = load("upstream: h:1\n").audit;
        CHECK_FALSE(defaults.allow_do_blocks);
        CHECK_FALSE(defaults.allow_rev_backfill);
        CHECK(defaults.trusted_routines.empty());
        check_error("upstream: h:1\naudit:\n  allow: [do_block]\n",
                    "pgrev.yaml:3: audit.allow[0]: ",
                    "unknown allowance \"do_block\"; allowed are truncate, copy_from, merge, "
                    "unparsable, rev_table_changes, do_blocks,");
        check_error("upstream: h:1\naudit:\n  trusted_routines: f\n",
                    "pgrev.yaml:3: audit.trusted_routines: ", "expected a list of routine names");
        check_error("upstream: h:1\naudit:\n  trusted_routines: ['a.b.c']\n",
                    "pgrev.yaml:3: audit.trusted_routines[0]: ", "");
    }

    TEST_CASE("more errors that explain themselves") {
        check_error("upstream: h:1\nadmin:\n  user: ''\n",
                    "pgrev.yaml:3: admin.user: ", "must not be empty");
        check_error("upstream: h:1\nadmin:\n  password_env: s3cret!\n",
                    "pgrev.yaml:3: admin.password_env: ", "not the password");
        check_error("upstream: h:1\nlimits:\n  idle_timeout: 1.5s\n",
                    "pgrev.yaml:3: limits.idle_timeout: ", "1500ms for 1.5s");
        check_error("upstream: h:1\n? [a]\n: b\n", "pgrev.yaml:2: ", "a key must be a plain word");
        check_error("upstream: h:1\nworkers: 2000\n", "pgrev.yaml:2: workers: ", "0 to 1024");
        // A block scalar is echoed on one line, cut short.
        check_error("upstream: h:1\nworkers: |\n  one\n  two\n  " + std::string(100, 'x') + "\n",
                    "pgrev.yaml:2: workers: ", "got \"one two xxx");
        CHECK(error_of("upstream: h:1\nworkers: |\n  " + std::string(200, 'x') + "\n").size() <
              200);
    }

    TEST_CASE("documents that are not a settings map") {
        check_error("", "pgrev.yaml:1: ", "the file is empty");
        check_error("# only a comment\n", "pgrev.yaml:1: ", "the file is empty");
        check_error("just text\n", "pgrev.yaml:1: ", "expected a map of settings");
        check_error("- upstream: h:1\n", "pgrev.yaml:1: ", "got a list");
        check_error("upstream: h:1\n---\nupstream: h:2\n", "pgrev.yaml:3: ", "one YAML document");
        check_error("upstream: h:1\nlimits: {max_clients: 5\n", "pgrev.yaml:", "not valid YAML: ");
        check_error("upstream: h:1\nlog:\n  level: info\n   bad: indent\n",
                    "pgrev.yaml:4: ", "not valid YAML: ");
    }

    TEST_CASE("the example file loads") {
        // __FILE__ is absolute in a CMake build: tests/config/ -> repository root.
        const auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
        const Config c = load_config_file((root / "examples" / "pgrev.yaml").string());
        CHECK(c.listen.to_string() == "127.0.0.1:6432");
        CHECK(c.upstream.to_string() == "127.0.0.1:5432");
        REQUIRE(c.audit.tables.size() == 1);
        CHECK(c.audit.tables[0].qualified_name() == "public.reservation");
    }

    TEST_CASE("loading from a file") {
        {
            TempFile file("upstream: 127.0.0.1:5432\naudit:\n  tables: [reservation]\n");
            const Config c = load_config_file(file.path_.string());
            CHECK(c.upstream.port == 5432);
            CHECK(c.audit.tables.at(0).name == "reservation");
        }
        {
            TempFile file("upstream: h:1\nlimits:\n  max_clients: 0\n");
            CHECK_THROWS_WITH_AS(load_config_file(file.path_.string()),
                                 (file.path_.string() + ":3: limits.max_clients: " +
                                  "expected a whole number from 1 to 1000000, got \"0\"")
                                     .c_str(),
                                 ConfigError);
        }
        {
            TempFile file("upstream: [h\n");
            CHECK_THROWS_WITH_AS(
                load_config_file(file.path_.string()),
                doctest::Contains((file.path_.string() + ":2: not valid YAML: ").c_str()),
                ConfigError);
        }
        const std::string missing = "/nonexistent/pgrev.yaml";
        CHECK_THROWS_WITH_AS(load_config_file(missing),
                             (missing + ": cannot read: No such file or directory").c_str(),
                             ConfigError);
        const std::string dir = std::filesystem::temp_directory_path().string();
        CHECK_THROWS_WITH_AS(load_config_file(dir),
                             doctest::Contains((dir + ": cannot read: ").c_str()), ConfigError);
    }
}
