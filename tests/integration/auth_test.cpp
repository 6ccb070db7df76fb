// Authentication passes through pgrev untouched: md5 and SCRAM-SHA-256
// succeed with the right password and fail with exactly PostgreSQL's error otherwise;
// pgrev never needs the password. SSL is declined ('N'), so sslmode=prefer still works.
#include <doctest/doctest.h>

#include "pq_conn.h"
#include "result_text.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(10));
}

// libpq's message for a failed connection, without the "connection to server at ...,
// port N failed:" part that necessarily differs.
std::string connection_error(const std::string& conninfo) {
    PgConn::Attempt attempt = PgConn::try_connect(conninfo, soon(), /*verbose_errors=*/true);
    if (attempt.conn) return "(connected)";
    return mask_ports(attempt.error);
}

}  // namespace

TEST_CASE("the harness stores md5user's password as md5 and scramuser's as SCRAM") {
    PgConn admin = PgConn::connect(TestEnv::get().direct(), soon());
    CHECK(admin.value("SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'md5user'",
                      soon()) == "md5");
    CHECK(admin.value("SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = 'scramuser'",
                      soon()) == "SCRAM-SHA-256$");
}

TEST_CASE("md5 and SCRAM users log in through pgrev with the right password") {
    TestEnv& env = TestEnv::get();
    for (std::string user : {TestRoles::kScramUser, TestRoles::kMd5User}) {
        for (std::string sslmode : {"prefer", "disable"}) {
            CAPTURE(user);
            CAPTURE(sslmode);
            PgConn::Attempt attempt =
                PgConn::try_connect(env.proxied(user, "app", "sslmode=" + sslmode), soon(), true);
            REQUIRE_MESSAGE(attempt.conn, attempt.error);
            PgConn& conn = *attempt.conn;
            CHECK(conn.value("SELECT current_user", soon()) == user);
            CHECK(conn.value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", soon()) ==
                  "f");
            conn.run_one("CREATE TEMP TABLE auth_t AS SELECT 1 AS v", soon(), PGRES_COMMAND_OK);
            CHECK(conn.value("SELECT sum(v) FROM auth_t", soon()) == "1");
        }
    }
}

TEST_CASE("the superuser logs in through pgrev by trust, with any sslmode that allows plain text") {
    TestEnv& env = TestEnv::get();
    for (std::string sslmode : {"prefer", "disable", "allow"}) {
        CAPTURE(sslmode);
        PgConn conn = PgConn::connect(env.proxied("postgres", "app", "sslmode=" + sslmode), soon());
        CHECK(conn.value("SELECT current_user || '@' || current_database()", soon()) ==
              "postgres@app");
    }
}

TEST_CASE("a failed login gives the same error through pgrev as directly") {
    TestEnv& env = TestEnv::get();
    struct Case {
        std::string story;
        const char* user;
        const char* db;
        const char* extra;
        const char* expected_sqlstate;
    };
    const Case cases[] = {
        {"wrong SCRAM password", "scramuser", "app", "password=wrong", "28P01"},
        {"wrong md5 password", "md5user", "app", "password=wrong", "28P01"},
        {"empty password", "scramuser", "app", "password=''", nullptr},
        {"unknown role", "nobody", "app", "password=whatever", "28P01"},
        {"unknown database", "postgres", "no_such_db", "", "3D000"},
        {"SSL required but not offered", "postgres", "app", "sslmode=require", nullptr},
        {"GSS encryption required", "postgres", "app", "gssencmode=require", nullptr},
    };
    for (const Case& c : cases) {
        CAPTURE(c.story);
        std::string direct = connection_error(env.direct(c.user, c.db, c.extra));
        std::string proxied = connection_error(env.proxied(c.user, c.db, c.extra));
        check_same(c.story, direct, proxied);
        CHECK(direct != "(connected)");
        if (c.expected_sqlstate != nullptr) {
            CHECK_MESSAGE(direct.find(c.expected_sqlstate) != std::string::npos, direct);
            CHECK_MESSAGE(proxied.find(c.expected_sqlstate) != std::string::npos, proxied);
        }
    }
}

TEST_CASE("a wrong password does not disturb the next login through pgrev") {
    TestEnv& env = TestEnv::get();
    for (int i = 0; i < 3; ++i) {
        CHECK(connection_error(env.proxied("scramuser", "app", "password=wrong")) != "(connected)");
        PgConn conn = PgConn::connect(env.proxied("scramuser"), soon());
        CHECK(conn.value("SELECT current_user", soon()) == "scramuser");
    }
}
