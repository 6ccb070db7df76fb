// The query path through both handlers, without sockets: what the server gets for each client
// message, what the client gets for each answer, and what the handlers ask of the session.
#include <doctest/doctest.h>

#include "tests/server/handler_harness.h"

using namespace pgrev;
using namespace pgrev::test;
using protocol::MessageStream;
namespace fe = protocol::frontend;
namespace be = protocol::backend;

namespace {

const std::string kUpdate = "UPDATE reservation SET party = 3 WHERE id = 1";
const std::string kDelete = "DELETE FROM reservation WHERE id = 2";

std::string command_complete(std::string_view tag) {
    return protocol::encode_command_complete(tag);
}
std::string ready(char status) {
    return protocol::encode_ready_for_query(status);
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("query path: the handlers' lists of whole messages") {
        const auto& client = server::ClientMessages::kWholeTypes;
        const auto& server = server::ServerMessages::kWholeTypes;
        // Describe ('D') included: one of the unnamed statement may name pgrev's own.
        for (char type : std::string("QPBECSFcfXD"))
            CHECK(client.contains(type));
        for (char type : std::string("dHp"))
            CHECK_FALSE(client.contains(type));
        // CloseComplete ('3') included: it confirms a Close in the books. BindComplete ('2')
        // and NoData ('n') too: those of a Query pgrev sent as Bind/Execute are not the client's.
        for (char type : std::string("CIs13GEZS2n"))
            CHECK(server.contains(type));
        for (char type : std::string("DTNAK"))
            CHECK_FALSE(server.contains(type));
    }

    TEST_CASE("query path: an audited Query goes rewritten and its tag comes back restored") {
        HandlerHarness h;
        auto sent = h.from_client(protocol::encode_query(kUpdate));
        REQUIRE(sent.status == MessageStream::Status::Done);
        auto messages = split(sent.sent);
        REQUIRE(messages.size() == 1);
        CHECK(messages[0].type == fe::kQuery);
        // Exactly the Rewriter's plan, search_path guards included.
        CHECK(messages[0].body == plan_with_guards(kUpdate).sql + '\0');
        CHECK(messages[0].body.find("\"public\".\"reservation_rev\"") != std::string::npos);

        auto back = h.from_server(command_complete("INSERT 0 1") + ready('I'));
        CHECK(back.sent == command_complete("UPDATE 1") + ready('I'));
        CHECK(h.session.readies == "I");
        CHECK(h.state.results.empty());
        CHECK(h.state.results.unmatched() == 0);
    }

    TEST_CASE("query path: a Query that names no audited table passes byte for byte") {
        HandlerHarness h;
        std::string select = protocol::encode_query("SELECT 1; SELECT 2");
        CHECK(h.from_client(select).sent == select);
        std::string answers =
            command_complete("SELECT 1") + command_complete("SELECT 1") + ready('I');
        CHECK(h.from_server(answers).sent == answers);
        CHECK(h.state.results.empty());
    }

    TEST_CASE("query path: an error in a pipeline skips to Sync, and the queue stays in step") {
        HandlerHarness h;
        std::string pipeline = parse_message("", kUpdate) + protocol::encode_bind("", "") +
                               execute_message() + parse_message("", kDelete) +
                               protocol::encode_bind("", "") + execute_message() +
                               protocol::encode_sync();
        auto sent = h.from_client(pipeline);
        REQUIRE(sent.status == MessageStream::Status::Done);
        auto messages = split(sent.sent);
        REQUIRE(messages.size() == 7);
        CHECK(messages[0].type == fe::kParse);
        CHECK(messages[0].body.find(plan_with_guards(kUpdate).sql) != std::string::npos);
        CHECK(messages[3].body.find(plan_with_guards(kDelete).sql) != std::string::npos);

        // The first Execute fails; PostgreSQL skips everything up to the Sync. The error names
        // the statement pgrev sent: the client reads it about its own.
        std::string answers = message(be::kParseComplete, "") + message('2', "") +
                              error_message({{'S', "ERROR"},
                                             {'C', "25006"},
                                             {'M',
                                              "cannot execute INSERT in a read-only "
                                              "transaction"}}) +
                              ready('I');
        auto back = h.from_server(answers);
        auto got = split(back.sent);
        REQUIRE(got.size() == 4);
        CHECK(got[2].type == be::kErrorResponse);
        CHECK(got[2].body.find("cannot execute UPDATE in a read-only transaction") !=
              std::string::npos);
        CHECK(h.session.errors == std::vector<std::string>{"25006"});
        CHECK(h.state.results.empty());  // the skipped Parse, Bind and Execute went with it
        CHECK(h.state.results.unmatched() == 0);

        // The next statement's answer is matched to it, not to the skipped DELETE.
        h.from_client(protocol::encode_query("INSERT INTO reservation (id) VALUES (5)"));
        auto next = h.from_server(command_complete("INSERT 0 1") + ready('I'));
        CHECK(next.sent == command_complete("INSERT 0 1") + ready('I'));
        h.from_client(protocol::encode_query(kDelete));
        CHECK(h.from_server(command_complete("INSERT 0 1") + ready('I')).sent ==
              command_complete("DELETE 1") + ready('I'));
        CHECK(h.state.results.unmatched() == 0);
    }

    TEST_CASE("query path: an answer to nothing pgrev sent ends the session") {
        HandlerHarness h;
        CHECK_THROWS_AS(h.from_server(message(be::kParseComplete, "")), server::OutOfStep);
    }

    TEST_CASE("query path: a Parse of a refused statement becomes pgrev's DO block") {
        HandlerHarness h;
        std::string pipeline = parse_message("", "TRUNCATE reservation") +
                               bind_with_parameter("", "7") + execute_message() +
                               protocol::encode_sync();
        auto sent = h.from_client(pipeline);
        REQUIRE(sent.status == MessageStream::Status::Done);
        auto messages = split(sent.sent);
        REQUIRE(messages.size() == 4);
        protocol::Parse p = protocol::decode_parse(messages[0].body);
        CHECK(p.query.substr(0, 3) == "DO ");
        CHECK(p.query.find("0A000") != std::string_view::npos);
        CHECK(p.query.find("pgrev: ") != std::string_view::npos);
        CHECK(p.query.find("public.reservation") != std::string_view::npos);
        // The DO block takes no parameters: the Bind goes without the client's.
        CHECK(messages[1].type == fe::kBind);
        CHECK(message(fe::kBind, messages[1].body) == protocol::encode_bind("", ""));

        // The server raises pgrev's error; its PL/pgSQL context and source location go.
        std::string refusal = "pgrev: cannot TRUNCATE audited table public.reservation";
        std::string answers = message(be::kParseComplete, "") + message('2', "") +
                              error_message({{'S', "ERROR"},
                                             {'C', "0A000"},
                                             {'M', refusal},
                                             {'W',
                                              "PL/pgSQL function inline_code_block line 1 "
                                              "at RAISE"},
                                             {'F', "pl_exec.c"},
                                             {'L', "3911"},
                                             {'R', "exec_stmt_raise"}}) +
                              ready('I');
        auto got = split(h.from_server(answers).sent);
        REQUIRE(got.size() == 4);
        CHECK(message(be::kErrorResponse, got[2].body) ==
              error_message({{'S', "ERROR"}, {'C', "0A000"}, {'M', refusal}}));
        // The books know the unnamed statement is pgrev's refusal.
        REQUIRE(h.state.statements.count("") == 1);
        CHECK(h.state.statements.at("").refused);
        CHECK(h.state.results.empty());
    }

    TEST_CASE("query path: a statement waits for the catalog, then goes rewritten") {
        HandlerHarness h;
        auto catalog = h.session.catalog;
        h.session.catalog = nullptr;  // not read yet
        std::string bytes = protocol::encode_query(kUpdate) + protocol::encode_query("SELECT 1");
        auto first = h.from_client(bytes);
        // Held before the message: nothing is sent, nothing after it is read.
        CHECK(first.status == MessageStream::Status::Suspended);
        CHECK(first.consumed == 0);
        CHECK(first.sent.empty());
        CHECK(h.session.catalog_requests == 1);
        CHECK(h.state.results.empty());

        h.session.catalog = catalog;
        h.client.on_catalog_loaded("");
        auto again = h.from_client(bytes);
        CHECK(again.status == MessageStream::Status::Done);
        CHECK(again.sent == protocol::encode_query(plan_with_guards(kUpdate).sql) +
                                protocol::encode_query("SELECT 1"));
        CHECK(h.session.catalog_requests == 1);
        CHECK(h.state.results.size() == 2);
    }

    TEST_CASE("query path: a catalog that cannot be read refuses, naming the database") {
        HandlerHarness h;
        h.session.catalog = nullptr;
        std::string query = protocol::encode_query(kUpdate);
        CHECK(h.from_client(query).status == MessageStream::Status::Suspended);
        h.client.on_catalog_loaded("connection refused");
        auto sent = split(h.from_client(query).sent);
        REQUIRE(sent.size() == 1);
        CHECK(sent[0].body.substr(0, 3) == "DO ");
        CHECK(sent[0].body.find("58000") != std::string::npos);
        CHECK(sent[0].body.find("the catalog of database \"app\" cannot be read: connection "
                                "refused") != std::string::npos);
        CHECK(h.session.catalog_requests == 1);
    }

    TEST_CASE("query path: Terminate is forwarded and told to the session") {
        HandlerHarness h;
        std::string terminate = message(fe::kTerminate, "");
        CHECK(h.from_client(terminate).sent == terminate);
        CHECK(h.session.terminated);
    }
}
