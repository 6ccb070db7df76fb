#include "audit_support.h"

#include "sanitizer_reports.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <stdexcept>

namespace pgrev::it::audit_it {

namespace {

std::string field(const PGresult* result, int code) {
    const char* value = PQresultErrorField(result, code);
    return value == nullptr ? "" : value;
}

std::vector<std::string> lines_of(const PGresult* result) {
    std::vector<std::string> lines;
    for (int r = 0; r < PQntuples(result); ++r) {
        std::string line;
        for (int c = 0; c < PQnfields(result); ++c) {
            if (c > 0) line += "|";
            line += PQgetisnull(result, r, c) ? "NULL" : PQgetvalue(result, r, c);
        }
        lines.push_back(line);
    }
    return lines;
}

Outcome drain(PgConn& c) {
    Outcome outcome;
    bool have = false;
    while (PgResult next = c.next_result(soon())) {
        Outcome o = outcome_of(next.get());
        // Keep the first error; otherwise the last result.
        if (!have || outcome.ok()) outcome = o;
        have = true;
    }
    if (!have) throw std::runtime_error("no result at all: " + c.error_message());
    return outcome;
}

}  // namespace

Deadline soon() {
    return deadline_in(std::chrono::seconds(10));
}

PgConn connect_direct(const std::string& user, const std::string& db) {
    return PgConn::connect(TestEnv::get().direct(user, db), soon());
}

PgConn connect_proxied(const std::string& user, const std::string& db) {
    return PgConn::connect(TestEnv::get().proxied(user, db), soon());
}

PgConn connect_via(std::uint16_t port, const std::string& user, const std::string& db) {
    return PgConn::connect(TestEnv::get().via_port(port, user, db), soon());
}

std::string exec(PgConn& c, const std::string& sql) {
    std::vector<PgResult> results = c.run(sql, soon());
    for (const PgResult& r : results) {
        ExecStatusType status = PQresultStatus(r.get());
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            throw std::runtime_error("\"" + sql.substr(0, 300) +
                                     "\" failed: " + PQresultErrorMessage(r.get()));
        }
    }
    if (results.empty()) throw std::runtime_error("no result for \"" + sql + "\"");
    return PQcmdStatus(results.back().get());
}

std::vector<std::string> rows(PgConn& c, const std::string& sql) {
    PgResult result = c.run_one(sql, soon());
    return lines_of(result.get());
}

long count(PgConn& c, const std::string& sql) {
    return std::stol(c.value(sql, soon()));
}

std::string contents(PgConn& c, const std::string& table) {
    std::vector<std::string> all = rows(c, "SELECT t::text FROM " + table + " AS t");
    std::sort(all.begin(), all.end());
    std::string text;
    for (const std::string& row : all)
        text += row + "\n";
    return text;
}

std::string Outcome::describe() const {
    std::string text = status + " tag=\"" + tag + "\"";
    if (!sqlstate.empty()) text += " " + sqlstate + ": " + message;
    for (const std::string& row : rows)
        text += "\n  " + row;
    return text;
}

Outcome outcome_of(const PGresult* result) {
    Outcome o;
    o.status = PQresStatus(PQresultStatus(result));
    o.tag = PQcmdStatus(const_cast<PGresult*>(result));
    ExecStatusType status = PQresultStatus(result);
    if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR) {
        o.sqlstate = field(result, PG_DIAG_SQLSTATE);
        o.message = field(result, PG_DIAG_MESSAGE_PRIMARY);
        if (o.sqlstate.empty()) o.sqlstate = "(none)";
    }
    o.rows = lines_of(result);
    return o;
}

Outcome simple(PgConn& c, const std::string& sql) {
    if (!PQsendQuery(c.get(), sql.c_str())) throw std::runtime_error(c.error_message());
    return drain(c);
}

Outcome with_params(PgConn& c, const std::string& sql, const std::vector<const char*>& params) {
    if (!PQsendQueryParams(c.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                           params.data(), nullptr, nullptr, 0)) {
        throw std::runtime_error(c.error_message());
    }
    return drain(c);
}

Outcome prepare_now(PgConn& c, const std::string& name, const std::string& sql) {
    if (!PQsendPrepare(c.get(), name.c_str(), sql.c_str(), 0, nullptr)) {
        throw std::runtime_error(c.error_message());
    }
    return drain(c);
}

Outcome execute_now(PgConn& c, const std::string& name, const std::vector<const char*>& params) {
    if (!PQsendQueryPrepared(c.get(), name.c_str(), static_cast<int>(params.size()), params.data(),
                             nullptr, nullptr, 0)) {
        throw std::runtime_error(c.error_message());
    }
    return drain(c);
}

void send_params(PgConn& c, Transcript& t, const std::string& sql,
                 const std::vector<const char*>& params) {
    t.note("> params: " + sql);
    if (!PQsendQueryParams(c.get(), sql.c_str(), static_cast<int>(params.size()), nullptr,
                           params.data(), nullptr, nullptr, 0)) {
        t.note("  send failed: " + c.error_message());
        return;
    }
    t.rest_of_command("  result", soon());
    t.transaction_status();
}

void prepare(PgConn& c, Transcript& t, const std::string& name, const std::string& sql) {
    t.note("> prepare " + name + ": " + sql);
    if (!PQsendPrepare(c.get(), name.c_str(), sql.c_str(), 0, nullptr)) {
        t.note("  send failed: " + c.error_message());
        return;
    }
    t.rest_of_command("  result", soon());
}

void exec_prepared(PgConn& c, Transcript& t, const std::string& name,
                   const std::vector<const char*>& params) {
    t.note("> execute " + name);
    if (!PQsendQueryPrepared(c.get(), name.c_str(), static_cast<int>(params.size()), params.data(),
                             nullptr, nullptr, 0)) {
        t.note("  send failed: " + c.error_message());
        return;
    }
    t.rest_of_command("  result", soon());
    t.transaction_status();
}

void describe_prepared(PgConn& c, Transcript& t, const std::string& name) {
    t.note("> describe " + name);
    if (!PQsendDescribePrepared(c.get(), name.c_str())) {
        t.note("  send failed: " + c.error_message());
        return;
    }
    while (PgResult next = c.next_result(soon())) {
        std::string types;
        for (int i = 0; i < PQnparams(next.get()); ++i)
            types += " " + std::to_string(PQparamtype(next.get(), i));
        t.note("  parameter types:" + types);
        t.result("  description", next.get());
    }
}

std::string expect_audited_transparent(const AuditedStory& story) {
    TestEnv& env = TestEnv::get();
    std::uint16_t port = story.port != 0 ? story.port : env.proxy_port();
    std::string count_sql = "SELECT count(*) FROM " + story.rev_table;
    std::optional<long> before, inside, after;
    auto session = [&](PgConn& c, Transcript& t) {
        bool proxied = std::string(PQport(c.get())) == std::to_string(port);
        if (proxied) before = count(c, count_sql);
        t.query("BEGIN", soon());
        story.body(c, t);
        if (proxied && PQtransactionStatus(c.get()) == PQTRANS_INTRANS) {
            inside = count(c, count_sql);
        }
        t.query("ROLLBACK", soon());
        if (proxied) after = count(c, count_sql);
    };
    std::string transcript = expect_transparent_at(port, story.story, session);
    if (env.direct_mode()) return transcript;
    INFO(story.story << ":\n" << transcript);
    REQUIRE_MESSAGE(before.has_value(), "the session through pgrev did not get far");
    if (story.expected_revs >= 0) {
        REQUIRE_MESSAGE(inside.has_value(),
                        "the transaction through pgrev was not healthy at "
                        "its end, so its revisions could not be counted");
        CHECK_MESSAGE(*inside - *before == story.expected_revs,
                      "revision rows written by the statements");
    }
    REQUIRE(after.has_value());
    CHECK_MESSAGE(*after == *before, "revision rows left after ROLLBACK");
    return transcript;
}

void seed_reservations() {
    PgConn c = connect_direct();
    exec(c,
         "CREATE TABLE IF NOT EXISTS dinner_slot (id int PRIMARY KEY, name text, party int);"
         "INSERT INTO dinner_slot VALUES (100001, 'window', 8), (100002, 'terrace', 2) "
         "ON CONFLICT (id) DO NOTHING;"
         "INSERT INTO reservation (id, name, date, time, party, last_modified) VALUES "
         "(100001, 'Steve', '2015-04-15', '19:00', 6, '2015-04-02 13:22:26.29167+00'), "
         "(100002, 'Phil', '2015-05-01', '18:30', 3, '2015-04-13 09:38:01.060898+00'), "
         "(100003, 'Ann', NULL, NULL, 2, '2015-04-20 10:00:00+00') ON CONFLICT (id) DO NOTHING");
}

std::string start_refused(const std::string& db, const std::string& schema_sql,
                          const std::string& audit) {
    TestEnv& env = TestEnv::get();
    PgConn admin = connect_direct("postgres", "postgres");
    // Its own database: while it exists, no pgrev auditing these tables can start.
    std::string drop_db = "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)";
    DirectCleanup drop(drop_db, "postgres");
    exec(admin, drop_db);
    exec(admin, "CREATE DATABASE " + db);
    {
        PgConn c = connect_direct("postgres", db);
        exec(c, schema_sql);
    }
    PgrevOptions options = env.pgrev_options();
    if (!audit.empty()) options.audit = audit;
    std::string config_path = env.cluster().dir() + "/pgrev-" + db + ".yaml";
    write_file(config_path, pgrev_config_yaml(options, free_tcp_port()));
    CommandResult run =
        run_command({pgrev_binary(), "--config", config_path}, {}, std::chrono::seconds(10));
    CHECK_FALSE_MESSAGE(run.timed_out, "pgrev started anyway: " << run.describe());
    CHECK(run.exit_status != 0);
    check_sanitizer_output("pgrev --config " + config_path, run.out + run.err);
    return run.out + run.err;
}

DirectCleanup::~DirectCleanup() {
    try {
        PgConn c = connect_direct("postgres", db_);
        c.run(sql_, soon());
    } catch (const std::exception&) {
        // Clean-up is best effort; the test has reported what went wrong.
    }
}

}  // namespace pgrev::it::audit_it

namespace pgrev::it::audit_it {

AuditedStory queries(std::string story, std::vector<std::string> sqls, int expected_revs) {
    AuditedStory s;
    s.story = std::move(story);
    s.expected_revs = expected_revs;
    s.body = [sqls = std::move(sqls)](PgConn&, Transcript& t) {
        for (const std::string& sql : sqls)
            t.query(sql, soon());
    };
    return s;
}

void run_stories(const std::vector<AuditedStory>& stories) {
    for (const AuditedStory& story : stories) {
        SUBCASE(story.story.c_str()) {
            expect_audited_transparent(story);
        }
    }
}

}  // namespace pgrev::it::audit_it
