// The startup phase as bytes on the wire, for what libpq decides by itself: pgrev answers
// SSLRequest and GSSENCRequest with 'N' and then accepts a plain StartupMessage on the
// same connection, as PostgreSQL does without TLS.
#include <doctest/doctest.h>

#include "raw_client.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

Deadline soon() {
    return deadline_in(std::chrono::seconds(5));
}

// Reads the server's answer to a StartupMessage for a trust login up to ReadyForQuery and
// returns the message types seen, e.g. "RSSSSK Z".
std::string read_until_ready(RawClient& client) {
    std::string types;
    for (;;) {
        auto message = client.read_message(soon());
        if (!message) return types + " (closed or timed out)";
        types += message->type;
        if (message->type == 'Z' || message->type == 'E') return types;
    }
}

// The message types with the ParameterStatus run collapsed, since its length is the
// server's business.
std::string shape(const std::string& types) {
    std::string collapsed;
    for (char type : types) {
        if (type == 'S' && !collapsed.empty() && collapsed.back() == 'S') continue;
        collapsed += type;
    }
    return collapsed;
}

}  // namespace

TEST_CASE("SSLRequest and GSSENCRequest are declined with 'N', then the login goes on") {
    TestEnv& env = TestEnv::get();
    struct Case {
        std::string story;
        std::string preamble;
        std::string expected_answer;
        // PostgreSQL built with GSSAPI answers 'G' where pgrev, which has no GSSAPI,
        // answers 'N' to GSSENCRequest; those cases are checked against pgrev only.
        bool proxy_only;
    };
    const Case cases[] = {
        {"no preamble", "", "", false},
        {"SSLRequest", ssl_request(), "N", false},
        {"GSSENCRequest", gssenc_request(), "N", true},
        {"GSSENCRequest then SSLRequest", gssenc_request() + ssl_request(), "NN", true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.story);
        for (std::uint16_t port : {env.cluster().port(), env.proxy_port()}) {
            if (c.proxy_only && port == env.cluster().port()) continue;
            CAPTURE(port);
            RawClient client = RawClient::connect(port, soon());
            std::string answer;
            if (!c.preamble.empty()) {
                // One request at a time: a server may not read ahead of its answer.
                for (std::size_t at = 0; at < c.preamble.size(); at += 8) {
                    REQUIRE(client.send_all(c.preamble.substr(at, 8)));
                    auto byte = client.read_exact(1, soon());
                    REQUIRE_MESSAGE(byte.has_value(), "no answer to the request");
                    answer += *byte;
                }
            }
            CHECK(answer == c.expected_answer);
            REQUIRE(client.send_all(startup_packet("postgres", "app")));
            CHECK(shape(read_until_ready(client)) == "RSKZ");
            REQUIRE(client.send_all(query_message("SELECT 1")));
            std::string types;
            while (auto message = client.read_message(soon())) {
                types += message->type;
                if (message->type == 'Z') break;
            }
            CHECK(types == "TDCZ");
            client.send_all(terminate_message());
            CHECK(client.read_until_closed(soon()).closed);
        }
    }
}
