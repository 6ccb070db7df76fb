// A simple Query that a session sends again with other numbers goes to the server as pgrev's
// own prepared statement with the numbers bound (server/own_statements.h, "kept Queries"):
// what the server gets for each, and that the client gets exactly a Query's answers.
#include <doctest/doctest.h>

#include "tests/server/handler_harness.h"

using namespace pgrev;
using namespace pgrev::test;
namespace fe = protocol::frontend;
namespace be = protocol::backend;

namespace {

std::string update(int party, int id) {
    return "UPDATE reservation SET party = party + " + std::to_string(party) +
           " WHERE id = " + std::to_string(id);
}

std::string types_of(const std::vector<Message>& messages) {
    std::string types;
    for (const auto& m : messages)
        types += m.type;
    return types;
}

const std::string kDone = protocol::encode_command_complete("INSERT 0 1");
const std::string kClientDone = protocol::encode_command_complete("UPDATE 1");
std::string ready(char status) {
    return protocol::encode_ready_for_query(status);
}
const std::string kParseComplete = message(be::kParseComplete, "");
const std::string kBindComplete = message(be::kBindComplete, "");

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("kept queries: sent as text, then prepared by pgrev, then bound") {
        HandlerHarness h;
        // 1st: the text, rewritten, as always.
        auto first = split(h.from_client(protocol::encode_query(update(4, 7))).sent);
        REQUIRE(types_of(first) == "Q");
        CHECK(h.from_server(kDone + ready('I')).sent == kClientDone + ready('I'));

        // 2nd: Parse of pgrev's statement with the numbers as $1, $2, Bind, Execute, Sync.
        auto second = split(h.from_client(protocol::encode_query(update(5, 8))).sent);
        REQUIRE(types_of(second) == "PBES");
        protocol::Parse parse = protocol::decode_parse(second[0].body);
        CHECK(parse.statement == "__pgrev_1");
        CHECK(parse.query.find("party = party + $1") != std::string::npos);
        CHECK(parse.query.find("id = $2") != std::string::npos);
        CHECK(parse.parameter_types == std::vector<std::uint32_t>{23, 23});
        CHECK(second[1].body.find("__pgrev_1") != std::string::npos);
        // The client gets a Query's answers: no ParseComplete, no BindComplete.
        CHECK(h.from_server(kParseComplete + kBindComplete + kDone + ready('I')).sent ==
              kClientDone + ready('I'));
        CHECK(h.state.own.size() == 1);

        // 3rd: only Bind, Execute and Sync.
        auto third = split(h.from_client(protocol::encode_query(update(6, 9))).sent);
        REQUIRE(types_of(third) == "BES");
        CHECK(third[0].body.find("__pgrev_1") != std::string::npos);
        CHECK(third[0].body.find('6') != std::string::npos);
        CHECK(h.from_server(kBindComplete + kDone + ready('T')).sent == kClientDone + ready('T'));

        // An error: the position maps from the parameterized text back to the client's.
        std::string text = update(7, 10);
        auto fourth = split(h.from_client(protocol::encode_query(text)).sent);
        REQUIRE(types_of(fourth) == "BES");
        std::string error = error_message(
            {{'S', "ERROR"}, {'C', "22003"}, {'M', "integer out of range"}, {'P', "1"}});
        auto answer = split(h.from_server(error + ready('E')).sent);
        REQUIRE(types_of(answer) == "EZ");
        CHECK(h.state.results.empty());
        CHECK(h.state.results.unmatched() == 0);

        // In a failed transaction: the text.
        auto fifth = split(h.from_client(protocol::encode_query(update(8, 11))).sent);
        CHECK(types_of(fifth) == "Q");
        h.from_server(error + ready('E'));
        h.from_client(protocol::encode_query("ROLLBACK"));
        h.from_server(protocol::encode_command_complete("ROLLBACK") + ready('I'));

        // Two pipelined: the first bound, the second (an answer is in flight) as text.
        auto both = split(h.from_client(protocol::encode_query(update(9, 12)) +
                                        protocol::encode_query(update(10, 13)))
                              .sent);
        REQUIRE(types_of(both) == "BESQ");
        CHECK(h.from_server(kBindComplete + kDone + ready('I') + kDone + ready('I')).sent ==
              kClientDone + ready('I') + kClientDone + ready('I'));
        CHECK(h.state.results.empty());
        CHECK(h.state.results.unmatched() == 0);
    }

    TEST_CASE("kept queries: not after a Describe whose answer is still to come") {
        HandlerHarness h;
        h.from_client(protocol::encode_query(update(4, 7)));
        h.from_server(kDone + ready('I'));
        // A Describe gets no queue entry: its NoData must not be taken for pgrev's.
        auto sent = split(h.from_client(protocol::encode_describe({'S', "s"}) +
                                        protocol::encode_query(update(5, 8)))
                              .sent);
        REQUIRE(types_of(sent) == "DQ");
        const std::string no_data = message(be::kNoData, "");
        CHECK(h.from_server(no_data + kDone + ready('I')).sent ==
              no_data + kClientDone + ready('I'));
        // After the next Sync, kept again.
        h.from_client(protocol::encode_sync());
        h.from_server(ready('I'));
        auto next = split(h.from_client(protocol::encode_query(update(6, 9))).sent);
        CHECK(types_of(next) == "PBES");
        CHECK(h.state.results.unmatched() == 0);
    }

    TEST_CASE("kept queries: a Parse that fails creates nothing; DISCARD ALL forgets") {
        HandlerHarness h;
        h.from_client(protocol::encode_query(update(4, 7)));
        h.from_server(kDone + ready('I'));
        auto second = split(h.from_client(protocol::encode_query(update(5, 8))).sent);
        REQUIRE(types_of(second) == "PBES");
        std::string error = error_message(
            {{'S', "ERROR"}, {'C', "42703"}, {'M', "column \"party\" does not exist"}});
        CHECK(split(h.from_server(error + ready('I')).sent).size() == 2);
        CHECK(h.state.own.size() == 0);
        // So the next one prepares again.
        auto third = split(h.from_client(protocol::encode_query(update(6, 9))).sent);
        REQUIRE(types_of(third) == "PBES");
        h.from_server(kParseComplete + kBindComplete + kDone + ready('I'));
        CHECK(h.state.own.size() == 1);

        h.from_client(protocol::encode_query("DISCARD ALL"));
        h.from_server(protocol::encode_command_complete("DISCARD ALL") + ready('I'));
        CHECK(h.state.own.size() == 0);
        auto after = split(h.from_client(protocol::encode_query(update(7, 10))).sent);
        CHECK(types_of(after) == "PBES");
        CHECK(protocol::decode_parse(after[0].body).statement == "__pgrev_3");
    }
}
