#include "server/own_statements.h"

#include <doctest/doctest.h>

#include <algorithm>

using pgrev::server::OwnStatements;
using Step = OwnStatements::Step;

TEST_SUITE("server") {
    TEST_CASE("own statements: seen once, then created, then reused") {
        OwnStatements own;
        std::string key = OwnStatements::key("UPDATE t SET v = $1", {23});
        CHECK(own.decide(key, "rewritten", 1).step == Step::Forward);
        own.on_seen(key);
        OwnStatements::Decision created = own.decide(key, "rewritten", 1);
        CHECK(created.step == Step::Create);
        CHECK(created.name == "__pgrev_1");
        // In flight in the same pipeline: reused at once.
        CHECK(own.decide(key, "rewritten", 1).step == Step::Reuse);
        own.on_created(key, created.name);
        own.on_ready();
        OwnStatements::Decision reused = own.decide(key, "rewritten", 1);
        CHECK(reused.step == Step::Reuse);
        CHECK(reused.name == "__pgrev_1");
        // Other parameter types: another key.
        CHECK(own.decide(OwnStatements::key("UPDATE t SET v = $1", {20}), "rewritten", 1).step ==
              Step::Forward);
    }

    TEST_CASE("own statements: a Parse not confirmed by the next ReadyForQuery is forgotten") {
        OwnStatements own;
        std::string key = OwnStatements::key("x", {});
        own.on_seen(key);
        CHECK(own.decide(key, "r", 1).step == Step::Create);
        own.on_ready();  // the Parse failed or was skipped
        OwnStatements::Decision again = own.decide(key, "r", 1);
        CHECK(again.step == Step::Create);
        CHECK(again.name == "__pgrev_2");  // never a name the server may still hold
    }

    TEST_CASE("own statements: a new catalog generation or text retires the statement") {
        OwnStatements own;
        std::string key = OwnStatements::key("x", {});
        own.on_seen(key);
        own.on_created(key, own.decide(key, "r", 1).name);
        OwnStatements::Decision next = own.decide(key, "r", 2);
        CHECK(next.step == Step::Create);
        CHECK(next.name == "__pgrev_2");
        CHECK(own.take_to_close() == std::vector<std::string>{"__pgrev_1"});
        // Not confirmed by the next ReadyForQuery: closed again.
        own.on_created(key, next.name);
        own.on_ready();
        CHECK(own.take_to_close() == std::vector<std::string>{"__pgrev_1"});
        own.on_closed("__pgrev_1");
        own.on_ready();
        CHECK(own.take_to_close().empty());
        own.retire_all();
        CHECK(own.size() == 0);
        CHECK(own.take_to_close() == std::vector<std::string>{"__pgrev_2"});
        // A new generation retires every statement, not only the one of the text asked for.
        std::string other = OwnStatements::key("y", {});
        own.on_seen(other);
        own.on_created(key, own.decide(key, "r", 3).name);
        own.on_created(other, own.decide(other, "r", 3).name);
        own.on_ready();
        own.take_to_close();
        CHECK(own.decide(key, "r", 4).step == Step::Create);
        CHECK(own.size() == 1);
        std::vector<std::string> closed = own.take_to_close();
        std::sort(closed.begin(), closed.end());
        CHECK(closed == std::vector<std::string>{"__pgrev_3", "__pgrev_4"});
    }

    TEST_CASE("own statements: bounded, the least recently used retired; client names skipped") {
        OwnStatements own;
        own.note_client_name("__pgrev_2");
        own.note_client_name("mine");
        std::vector<std::string> names;
        for (std::size_t i = 0; i < OwnStatements::kMaxStatements; ++i) {
            std::string key = OwnStatements::key("t" + std::to_string(i), {});
            own.on_seen(key);
            names.push_back(own.decide(key, "r", 1).name);
            own.on_created(key, names.back());
        }
        CHECK(names[1] == "__pgrev_3");
        own.decide(OwnStatements::key("t0", {}), "r", 1);  // t0 is used again
        std::string key = OwnStatements::key("new", {});
        own.on_seen(key);
        CHECK(own.decide(key, "r", 1).step == Step::Create);
        CHECK(own.size() == OwnStatements::kMaxStatements);
        CHECK(own.take_to_close() == std::vector<std::string>{names[1]});
        own.forget_all();
        CHECK(own.size() == 0);
        CHECK(own.take_to_close().empty());
        CHECK(OwnStatements::is_reserved("__pgrev_x"));
        CHECK_FALSE(OwnStatements::is_reserved("_pgrev_x"));
    }
}
