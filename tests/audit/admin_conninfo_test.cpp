// admin_conninfo: what pgrev's own libpq connections (catalog reads, CREATE TABLE of revision
// tables) ask for, read back through libpq's parser, so quoting mistakes show too.
#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <map>
#include <string>

#include "audit/catalog_loader.h"
#include "config/config.h"

using namespace pgrev;

namespace {

// The keywords the string sets, as libpq reads them.
std::map<std::string, std::string> parsed(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    INFO("conninfo: ", conninfo);
    INFO("error: ", error == nullptr ? "" : error);
    REQUIRE(options != nullptr);
    std::map<std::string, std::string> out;
    for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
        if (o->val != nullptr) out[o->keyword] = o->val;
    }
    PQconninfoFree(options);
    return out;
}

config::Config with_upstream() {
    config::Config c;
    c.upstream = config::parse_endpoint("db.example.com:5433");
    return c;
}

}  // namespace

TEST_SUITE("admin_conninfo") {
    TEST_CASE("without a tls section: sslmode=prefer, like libpq, and no files") {
        const auto o = parsed(audit::admin_conninfo(with_upstream(), "app"));
        CHECK(o.at("host") == "db.example.com");
        CHECK(o.at("port") == "5433");
        CHECK(o.at("dbname") == "app");
        CHECK(o.at("sslmode") == "prefer");
        CHECK(o.count("sslrootcert") == 0);
        CHECK(o.count("sslcert") == 0);
        CHECK(o.count("sslkey") == 0);
    }

    TEST_CASE("tls.upstream's mode and files, quoted") {
        config::Config c = with_upstream();
        c.tls.upstream.sslmode = config::UpstreamTlsMode::VerifyFull;
        c.tls.upstream.ca_file = "/etc/pgrev/it's a bundle.pem";
        c.tls.upstream.cert_file = "/etc/pgrev/back\\slash.crt";
        c.tls.upstream.key_file = "/etc/pgrev/client.key";
        const auto o = parsed(audit::admin_conninfo(c, "postgres"));
        CHECK(o.at("sslmode") == "verify-full");
        CHECK(o.at("sslrootcert") == "/etc/pgrev/it's a bundle.pem");
        CHECK(o.at("sslcert") == "/etc/pgrev/back\\slash.crt");
        CHECK(o.at("sslkey") == "/etc/pgrev/client.key");
    }

    TEST_CASE("every mode by libpq's name; a CA only when configured") {
        for (config::UpstreamTlsMode m :
             {config::UpstreamTlsMode::Disable, config::UpstreamTlsMode::Allow,
              config::UpstreamTlsMode::Prefer, config::UpstreamTlsMode::Require,
              config::UpstreamTlsMode::VerifyCa, config::UpstreamTlsMode::VerifyFull}) {
            config::Config c = with_upstream();
            c.tls.upstream.sslmode = m;
            INFO(config::sslmode_name(m));
            CHECK(parsed(audit::admin_conninfo(c, "postgres")).at("sslmode") ==
                  config::sslmode_name(m));
        }
        config::Config c = with_upstream();
        c.tls.upstream.sslmode = config::UpstreamTlsMode::Require;
        CHECK(parsed(audit::admin_conninfo(c, "postgres")).count("sslrootcert") == 0);
        c.tls.upstream.ca_file = "/etc/pgrev/root.crt";
        CHECK(parsed(audit::admin_conninfo(c, "postgres")).at("sslrootcert") ==
              "/etc/pgrev/root.crt");
    }
}
