#include <doctest/doctest.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "config/config.h"

using namespace pgrev::config;
using namespace std::chrono_literals;

namespace {

// The message of the ConfigError that loading `yaml` throws ("" if it loads).
std::string error_of(const std::string& yaml) {
    try {
        load_config_string(yaml, "pgrev.yaml");
    } catch (const ConfigError& e) {
        return e.what();
    }
    return "";
}

void check_error(const std::string& yaml, const std::string& prefix, const std::string& part) {
    const std::string message = error_of(yaml);
    INFO("yaml: ", yaml);
    INFO("message: ", message);
    CHECK(message.rfind(prefix, 0) == 0);
    CHECK(message.find(part) != std::string::npos);
    CHECK(message.find('\n') == std::string::npos);
}

Config load(const std::string& yaml) {
    return load_config_string(yaml, "pgrev.yaml");
}

// A file under the temp directory, removed when the test ends.
struct TempFile {
    std::filesystem::path path_;

    explicit TempFile(const std::string& text)
        : path_(std::filesystem::temp_directory_path() /
                ("pgrev_config_test_" + std::to_string(::getpid()) + ".yaml")) {
        std::ofstream(path_) << text;
    }
    ~TempFile() { std::filesystem::remove(path_); }
};

// A temp directory holding stand-ins for certificate files (the loader only checks that it
// can open them), removed when the test ends.
struct CertDir {
    std::filesystem::path dir_;

    CertDir()
        : dir_(std::filesystem::temp_directory_path() /
               ("pgrev_config_test_certs_" + std::to_string(::getpid()))) {
        std::filesystem::create_directories(dir_ / "sub");
        for (const char* name : {"server.crt", "server.key", "ca.crt", "sub/client.crt",
                                 "sub/client.key"}) {
            std::ofstream(dir_ / name) << "-----BEGIN STAND-IN-----\n";
        }
    }
    ~CertDir() { std::filesystem::remove_all(dir_); }

    std::string operator/(const std::string& name) const { return (dir_ / name).string(); }
};

// Sets the current directory for the rest of a test, restored after.
struct InDirectory {
    std::filesystem::path saved_ = std::filesystem::current_path();
    explicit InDirectory(const std::filesystem::path& dir) { std::filesystem::current_path(dir); }
    ~InDirectory() { std::filesystem::current_path(saved_); }
};

}  // namespace

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

    TEST_CASE("tls: without the section, clients in clear and upstream prefer") {
        const Config c = load("upstream: h:1\n");
        CHECK(c.tls.client.sslmode == ClientTlsMode::Disable);
        CHECK(c.tls.client.cert_file.empty());
        CHECK(c.tls.client.key_file.empty());
        CHECK(c.tls.client.ca_file.empty());
        CHECK(c.tls.upstream.sslmode == UpstreamTlsMode::Prefer);
        CHECK(c.tls.upstream.ca_file.empty());
        CHECK(c.tls.upstream.cert_file.empty());
        CHECK(c.tls.upstream.key_file.empty());
        // Empty sections mean the same.
        CHECK(load("upstream: h:1\ntls:\n").tls.upstream.sslmode == UpstreamTlsMode::Prefer);
        const Config e = load("upstream: h:1\ntls:\n  client:\n  upstream:\n");
        CHECK(e.tls.client.sslmode == ClientTlsMode::Disable);
        CHECK(e.tls.upstream.sslmode == UpstreamTlsMode::Prefer);
    }

    TEST_CASE("tls: every key") {
        const CertDir certs;
        const Config c = load("upstream: h:1\ntls:\n  client:\n    sslmode: require\n"
                              "    cert_file: " + (certs / "server.crt") +
                              "\n    key_file: " + (certs / "server.key") +
                              "\n    ca_file: " + (certs / "ca.crt") +
                              "\n  upstream:\n    sslmode: verify-full\n"
                              "    ca_file: " + (certs / "ca.crt") +
                              "\n    cert_file: " + (certs / "sub/client.crt") +
                              "\n    key_file: " + (certs / "sub/client.key") + "\n");
        CHECK(c.tls.client.sslmode == ClientTlsMode::Require);
        CHECK(c.tls.client.cert_file == certs / "server.crt");
        CHECK(c.tls.client.key_file == certs / "server.key");
        CHECK(c.tls.client.ca_file == certs / "ca.crt");
        CHECK(c.tls.upstream.sslmode == UpstreamTlsMode::VerifyFull);
        CHECK(c.tls.upstream.ca_file == certs / "ca.crt");
        CHECK(c.tls.upstream.cert_file == certs / "sub/client.crt");
        CHECK(c.tls.upstream.key_file == certs / "sub/client.key");
    }

    TEST_CASE("tls: every sslmode reads, with libpq's names") {
        const CertDir certs;
        const std::string client_files = "    cert_file: " + (certs / "server.crt") +
                                         "\n    key_file: " + (certs / "server.key") + "\n";
        for (ClientTlsMode m : {ClientTlsMode::Disable, ClientTlsMode::Allow, ClientTlsMode::Prefer,
                                ClientTlsMode::Require}) {
            const std::string name = sslmode_name(m);
            INFO(name);
            CHECK(load("upstream: h:1\ntls:\n  client:\n    sslmode: " + name + "\n" + client_files)
                      .tls.client.sslmode == m);
        }
        for (UpstreamTlsMode m : {UpstreamTlsMode::Disable, UpstreamTlsMode::Allow,
                                  UpstreamTlsMode::Prefer, UpstreamTlsMode::Require,
                                  UpstreamTlsMode::VerifyCa, UpstreamTlsMode::VerifyFull}) {
            const std::string name = sslmode_name(m);
            INFO(name);
            CHECK(load("upstream: h:1\ntls:\n  upstream:\n    sslmode: " + name +
                       "\n    ca_file: " + (certs / "ca.crt") + "\n")
                      .tls.upstream.sslmode == m);
        }
        // Case folds, as for log.level.
        CHECK(load("upstream: h:1\ntls:\n  upstream:\n    sslmode: Require\n")
                  .tls.upstream.sslmode == UpstreamTlsMode::Require);
    }

    TEST_CASE("tls.client.sslmode: prefer when a certificate is given, disable otherwise") {
        const CertDir certs;
        const std::string files = "    cert_file: " + (certs / "server.crt") +
                                  "\n    key_file: " + (certs / "server.key") + "\n";
        CHECK(load("upstream: h:1\ntls:\n  client:\n" + files).tls.client.sslmode ==
              ClientTlsMode::Prefer);
        // Written disable wins: the files stay named, TLS is off.
        const Config off = load("upstream: h:1\ntls:\n  client:\n    sslmode: disable\n" + files);
        CHECK(off.tls.client.sslmode == ClientTlsMode::Disable);
        CHECK(off.tls.client.cert_file == certs / "server.crt");
        CHECK(load("upstream: h:1\ntls:\n  client:\n    sslmode: disable\n").tls.client.sslmode ==
              ClientTlsMode::Disable);
    }

    TEST_CASE("tls.client: a mode other than disable needs a certificate and key") {
        const CertDir certs;
        for (const char* m : {"allow", "prefer", "require"}) {
            check_error(std::string("upstream: h:1\ntls:\n  client:\n    sslmode: ") + m + "\n",
                        "pgrev.yaml:4: tls.client.sslmode: ",
                        std::string(m) + " needs tls.client.cert_file and tls.client.key_file");
        }
        // The certificate without its key, and the reverse, whatever the mode.
        check_error("upstream: h:1\ntls:\n  client:\n    sslmode: require\n    cert_file: " +
                        (certs / "server.crt") + "\n",
                    "pgrev.yaml:5: tls.client.cert_file: ", "needs tls.client.key_file too");
        check_error("upstream: h:1\ntls:\n  client:\n    cert_file: " + (certs / "server.crt") + "\n",
                    "pgrev.yaml:4: tls.client.cert_file: ", "needs tls.client.key_file too");
        check_error("upstream: h:1\ntls:\n  client:\n    key_file: " + (certs / "server.key") + "\n",
                    "pgrev.yaml:4: tls.client.key_file: ", "needs tls.client.cert_file too");
        // Client certificates are asked for only over TLS.
        check_error("upstream: h:1\ntls:\n  client:\n    ca_file: " + (certs / "ca.crt") + "\n",
                    "pgrev.yaml:4: tls.client.ca_file: ", "set tls.client.cert_file");
    }

    TEST_CASE("tls.upstream: verify-ca and verify-full need ca_file") {
        const CertDir certs;
        for (const char* m : {"verify-ca", "verify-full"}) {
            check_error(std::string("upstream: h:1\ntls:\n  upstream:\n    sslmode: ") + m + "\n",
                        "pgrev.yaml:4: tls.upstream.sslmode: ",
                        std::string(m) + " needs tls.upstream.ca_file");
        }
        // require encrypts without a CA, as in libpq.
        CHECK(load("upstream: h:1\ntls:\n  upstream:\n    sslmode: require\n")
                  .tls.upstream.ca_file.empty());
        check_error("upstream: h:1\ntls:\n  upstream:\n    key_file: " + (certs / "server.key") +
                        "\n",
                    "pgrev.yaml:4: tls.upstream.key_file: ", "needs tls.upstream.cert_file too");
        check_error("upstream: h:1\ntls:\n  upstream:\n    cert_file: " +
                        (certs / "sub/client.crt") + "\n",
                    "pgrev.yaml:4: tls.upstream.cert_file: ", "needs tls.upstream.key_file too");
    }

    TEST_CASE("tls: bad values and unknown keys") {
        check_error("upstream: h:1\ntls:\n  client:\n    sslmode: on\n",
                    "pgrev.yaml:4: tls.client.sslmode: ",
                    "expected one of disable, allow, prefer, require, got \"on\"");
        check_error("upstream: h:1\ntls:\n  client:\n    sslmode: verify-full\n",
                    "pgrev.yaml:4: tls.client.sslmode: ", "set tls.client.ca_file");
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslmode: strict\n",
                    "pgrev.yaml:4: tls.upstream.sslmode: ",
                    "one of disable, allow, prefer, require, verify-ca, verify-full, got \"strict\"");
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslmode: [require]\n",
                    "pgrev.yaml:4: tls.upstream.sslmode: ", "got a list");
        check_error("upstream: h:1\ntls:\n  client:\n    certfile: x\n",
                    "pgrev.yaml:4: tls.client.certfile: ",
                    "unknown key; did you mean cert_file? allowed keys under tls.client: sslmode, "
                    "cert_file, key_file, ca_file");
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslrootcert: x\n",
                    "pgrev.yaml:4: tls.upstream.sslrootcert: ",
                    "allowed keys under tls.upstream: sslmode, ca_file, cert_file, key_file");
        check_error("upstream: h:1\ntls:\n  server:\n    sslmode: require\n",
                    "pgrev.yaml:3: tls.server: ", "allowed keys under tls: client, upstream");
        check_error("upstream: h:1\ntls: require\n", "pgrev.yaml:2: tls: ", "expected a map");
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslmode: require\n    sslmode: disable\n",
                    "pgrev.yaml:5: tls.upstream.sslmode: ", "appears twice (first on line 4)");
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslmode: require\n    ca_file: ''\n",
                    "pgrev.yaml:5: tls.upstream.ca_file: ", "must not be empty");
    }

    TEST_CASE("tls: every named file must be readable at load time") {
        const CertDir certs;
        const std::string missing = certs / "nope.crt";
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslmode: verify-full\n    ca_file: " +
                        missing + "\n",
                    "pgrev.yaml:5: tls.upstream.ca_file: ",
                    "cannot read " + missing + ": No such file or directory");
        check_error("upstream: h:1\ntls:\n  client:\n    cert_file: " + (certs / "server.crt") +
                        "\n    key_file: " + (certs / "sub") + "\n",
                    "pgrev.yaml:5: tls.client.key_file: ",
                    "cannot read " + (certs / "sub") + ": is a directory");
        check_error("upstream: h:1\ntls:\n  client:\n    cert_file: " + (certs / "server.crt") +
                        "\n    key_file: " + (certs / "server.key") +
                        "\n    ca_file: " + (certs / "ca.crt/x") + "\n",
                    "pgrev.yaml:6: tls.client.ca_file: ", "Not a directory");
        check_error("upstream: h:1\ntls:\n  upstream:\n    cert_file: " + (certs / "sub/client.crt") +
                        "\n    key_file: " + (certs / "sub/missing.key") + "\n",
                    "pgrev.yaml:5: tls.upstream.key_file: ", "No such file or directory");
        // Files are checked even when the mode leaves them unused: the operator named them.
        check_error("upstream: h:1\ntls:\n  upstream:\n    sslmode: disable\n    ca_file: " +
                        missing + "\n",
                    "pgrev.yaml:5: tls.upstream.ca_file: ", "cannot read " + missing);
    }

    TEST_CASE("tls: relative file names resolve against the configuration file's directory") {
        const CertDir certs;
        const std::filesystem::path yaml = certs.dir_ / "sub" / "pgrev.yaml";
        std::ofstream(yaml) << "upstream: h:1\ntls:\n  client:\n    cert_file: ../server.crt\n"
                               "    key_file: ./../server.key\n  upstream:\n"
                               "    sslmode: verify-ca\n    ca_file: ../ca.crt\n"
                               "    cert_file: client.crt\n    key_file: client.key\n";
        // Started from another directory, pgrev still finds the files next to its config.
        const InDirectory elsewhere(std::filesystem::temp_directory_path());
        const Config c = load_config_file(yaml.string());
        CHECK(c.tls.client.cert_file == certs / "server.crt");
        CHECK(c.tls.client.key_file == certs / "server.key");
        CHECK(c.tls.upstream.ca_file == certs / "ca.crt");
        CHECK(c.tls.upstream.cert_file == certs / "sub/client.crt");
        CHECK(c.tls.upstream.key_file == certs / "sub/client.key");
        // A relative name for the configuration file itself works the same.
        const InDirectory in_certs(certs.dir_);
        CHECK(load_config_file("sub/pgrev.yaml").tls.upstream.ca_file == certs / "ca.crt");
        // A missing file is reported with the name pgrev looked for.
        std::ofstream(yaml) << "upstream: h:1\ntls:\n  upstream:\n    sslmode: verify-ca\n"
                               "    ca_file: ca.crt\n";
        CHECK_THROWS_WITH_AS(load_config_file(yaml.string()),
                             (yaml.string() + ":5: tls.upstream.ca_file: cannot read " +
                              (certs / "sub/ca.crt") + ": No such file or directory")
                                 .c_str(),
                             ConfigError);
    }

    TEST_CASE("tls: a configuration given as text resolves names against the current directory") {
        const CertDir certs;
        const InDirectory in_certs(certs.dir_ / "sub");
        const Config c = load("upstream: h:1\ntls:\n  upstream:\n    sslmode: verify-full\n"
                              "    ca_file: ../ca.crt\n");
        CHECK(c.tls.upstream.ca_file == certs / "ca.crt");
    }

    TEST_CASE("the example file's tls section, uncommented, loads") {
        const auto root = std::filesystem::path(__FILE__).parent_path().parent_path().parent_path();
        std::ifstream example(root / "examples" / "pgrev.yaml");
        REQUIRE(example);
        std::string text;
        bool in_tls = false;
        for (std::string line; std::getline(example, line);) {
            in_tls = in_tls || line == "# tls:";
            if (in_tls && line.rfind("# ", 0) == 0) line = line.substr(2);
            text += line + "\n";
        }
        REQUIRE(in_tls);
        const CertDir certs;
        for (const char* name : {"clients-ca.crt", "root.crt", "client.crt", "client.key"}) {
            std::ofstream(certs.dir_ / name) << "-----BEGIN STAND-IN-----\n";
        }
        std::ofstream(certs.dir_ / "pgrev.yaml") << text;
        const Config c = load_config_file(certs / "pgrev.yaml");
        CHECK(c.tls.client.sslmode == ClientTlsMode::Require);
        CHECK(c.tls.client.ca_file == certs / "clients-ca.crt");
        CHECK(c.tls.upstream.sslmode == UpstreamTlsMode::VerifyFull);
        CHECK(c.tls.upstream.ca_file == certs / "root.crt");
        CHECK(c.tls.upstream.key_file == certs / "client.key");
    }
}
