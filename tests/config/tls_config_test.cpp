// The tls section of the configuration (config/tls_section.cpp): defaults, the rules that
// join keys, file names resolved and opened at load.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.h"
#include "tests/config/config_test_support.h"

using namespace pgrev::config;
using namespace pgrev::config::testing;

TEST_SUITE("config") {
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
        const Config c = load(
            "upstream: h:1\ntls:\n  client:\n    sslmode: require\n"
            "    cert_file: " +
            (certs / "server.crt") + "\n    key_file: " + (certs / "server.key") +
            "\n    ca_file: " + (certs / "ca.crt") +
            "\n  upstream:\n    sslmode: verify-full\n"
            "    ca_file: " +
            (certs / "ca.crt") + "\n    cert_file: " + (certs / "sub/client.crt") +
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

    TEST_CASE("tls.client.ca_file: client certificates are required of every client") {
        const CertDir certs;
        const std::string files = "    cert_file: " + (certs / "server.crt") +
                                  "\n    key_file: " + (certs / "server.key") +
                                  "\n    ca_file: " + (certs / "ca.crt") + "\n";
        // Without sslmode, a CA file means require: a clear client would skip the check.
        CHECK(load("upstream: h:1\ntls:\n  client:\n" + files).tls.client.sslmode ==
              ClientTlsMode::Require);
        for (const char* m : {"allow", "prefer", "disable"}) {
            INFO(m);
            check_error(
                "upstream: h:1\ntls:\n  client:\n    sslmode: " + std::string(m) + "\n" + files,
                "pgrev.yaml:4: tls.client.sslmode: ", "use require");
        }
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
        for (UpstreamTlsMode m :
             {UpstreamTlsMode::Disable, UpstreamTlsMode::Allow, UpstreamTlsMode::Prefer,
              UpstreamTlsMode::Require, UpstreamTlsMode::VerifyCa, UpstreamTlsMode::VerifyFull}) {
            const std::string name = sslmode_name(m);
            INFO(name);
            CHECK(load("upstream: h:1\ntls:\n  upstream:\n    sslmode: " + name +
                       "\n    ca_file: " + (certs / "ca.crt") + "\n")
                      .tls.upstream.sslmode == m);
        }
        // Case folds, as for log.level.
        CHECK(
            load("upstream: h:1\ntls:\n  upstream:\n    sslmode: Require\n").tls.upstream.sslmode ==
            UpstreamTlsMode::Require);
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
        check_error(
            "upstream: h:1\ntls:\n  client:\n    cert_file: " + (certs / "server.crt") + "\n",
            "pgrev.yaml:4: tls.client.cert_file: ", "needs tls.client.key_file too");
        check_error(
            "upstream: h:1\ntls:\n  client:\n    key_file: " + (certs / "server.key") + "\n",
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
        check_error(
            "upstream: h:1\ntls:\n  upstream:\n    key_file: " + (certs / "server.key") + "\n",
            "pgrev.yaml:4: tls.upstream.key_file: ", "needs tls.upstream.cert_file too");
        check_error(
            "upstream: h:1\ntls:\n  upstream:\n    cert_file: " + (certs / "sub/client.crt") + "\n",
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
                    "one of disable, allow, prefer, require, verify-ca, verify-full, got "
                    "\"strict\"");
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
        check_error(
            "upstream: h:1\ntls:\n  upstream:\n    sslmode: require\n"
            "    sslmode: disable\n",
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
        check_error(
            "upstream: h:1\ntls:\n  upstream:\n    cert_file: " + (certs / "sub/client.crt") +
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
        const Config c = load(
            "upstream: h:1\ntls:\n  upstream:\n    sslmode: verify-full\n"
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
