#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "audit/plan_cache.h"

using namespace pgrev::audit;

namespace {
PlanPtr make_plan(const std::string& sql) {
    auto p = std::make_shared<RewritePlan>();
    p->action = RewritePlan::Action::Rewrite;
    p->sql = sql;
    return p;
}
}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("plan_cache: hits and misses are counted") {
        PlanCache cache(4);
        CHECK(cache.find(1, "SELECT 1") == nullptr);
        CHECK(cache.misses() == 1);
        CHECK(cache.hits() == 0);
        auto plan = make_plan("x");
        cache.insert(1, "SELECT 1", plan);
        CHECK(cache.size() == 1);
        CHECK(cache.find(1, "SELECT 1") == plan);
        CHECK(cache.find(1, "SELECT 1") == plan);
        CHECK(cache.find(1, "SELECT 2") == nullptr);
        CHECK(cache.find(1, "select 1") == nullptr);  // the text is the key, byte for byte
        CHECK(cache.hits() == 2);
        CHECK(cache.misses() == 3);
    }

    TEST_CASE("plan_cache: the least recently used entry goes first") {
        PlanCache cache(3);
        cache.insert(1, "a", make_plan("a"));
        cache.insert(1, "b", make_plan("b"));
        cache.insert(1, "c", make_plan("c"));
        REQUIRE(cache.find(1, "a") != nullptr);  // a is now the most recently used
        cache.insert(1, "d", make_plan("d"));    // evicts b
        CHECK(cache.size() == 3);
        CHECK(cache.find(1, "b") == nullptr);
        CHECK(cache.find(1, "a") != nullptr);
        CHECK(cache.find(1, "c") != nullptr);
        REQUIRE(cache.find(1, "d") != nullptr);
        cache.insert(1, "e", make_plan("e"));  // the finds above left d, c, a: evicts a
        CHECK(cache.size() == 3);
        CHECK(cache.find(1, "a") == nullptr);
        CHECK(cache.find(1, "e")->sql == "e");
    }

    TEST_CASE("plan_cache: inserting an existing key replaces its plan and refreshes it") {
        PlanCache cache(2);
        cache.insert(1, "a", make_plan("old"));
        cache.insert(1, "b", make_plan("b"));
        cache.insert(1, "a", make_plan("new"));
        CHECK(cache.size() == 2);
        cache.insert(1, "c", make_plan("c"));  // b is the least recently used now
        CHECK(cache.find(1, "b") == nullptr);
        REQUIRE(cache.find(1, "a") != nullptr);
        CHECK(cache.find(1, "a")->sql == "new");
    }

    TEST_CASE("plan_cache: the catalog generation separates entries") {
        PlanCache cache(8);
        cache.insert(1, "UPDATE reservation SET party = 1", make_plan("gen1"));
        CHECK(cache.find(2, "UPDATE reservation SET party = 1") == nullptr);
        cache.insert(2, "UPDATE reservation SET party = 1", make_plan("gen2"));
        CHECK(cache.size() == 2);
        CHECK(cache.find(1, "UPDATE reservation SET party = 1")->sql == "gen1");
        CHECK(cache.find(2, "UPDATE reservation SET party = 1")->sql == "gen2");
        // Large generations and texts that start with bytes a generation could hold.
        cache.insert(0x0100000000000000ULL, "x", make_plan("big"));
        CHECK(cache.find(0, "x") == nullptr);
        CHECK(cache.find(0x0100000000000000ULL, "x")->sql == "big");
        std::string with_nul("a\0b", 3);
        cache.insert(1, with_nul, make_plan("nul"));
        CHECK(cache.find(1, "a") == nullptr);
        CHECK(cache.find(1, with_nul)->sql == "nul");
    }

    TEST_CASE("plan_cache: capacity bounds the size; zero stores nothing") {
        PlanCache cache(5);
        for (int i = 0; i < 100; ++i)
            cache.insert(1, "SELECT " + std::to_string(i), make_plan(std::to_string(i)));
        CHECK(cache.size() == 5);
        CHECK(cache.find(1, "SELECT 94") == nullptr);
        for (int i = 95; i < 100; ++i)
            CHECK(cache.find(1, "SELECT " + std::to_string(i))->sql == std::to_string(i));

        PlanCache none(0);
        none.insert(1, "a", make_plan("a"));
        CHECK(none.size() == 0);
        CHECK(none.find(1, "a") == nullptr);
    }

    TEST_CASE("plan_cache: a cached plan outlives its eviction for whoever holds it") {
        PlanCache cache(1);
        cache.insert(1, "a", make_plan("a"));
        PlanPtr held = cache.find(1, "a");
        cache.insert(1, "b", make_plan("b"));
        CHECK(cache.find(1, "a") == nullptr);
        REQUIRE(held != nullptr);
        CHECK(held->sql == "a");
    }
}

// Issue 7 item 14: 300 distinct 60 kB statements once held 60 MB per I/O thread, and 4,096 of
// them would have held 0.8 GB: the cache is bounded by bytes too.
TEST_SUITE("audit") {
    TEST_CASE("plan_cache: many large plans keep the byte total under the bound") {
        constexpr std::size_t kBound = 4 * 1024 * 1024;
        PlanCache cache(4096, kBound);
        std::size_t total = 0;
        for (int i = 0; i < 300; ++i) {
            std::string sql = "UPDATE reservation SET name = '" + std::string(60'000, 'a') +
                              "' WHERE id = " + std::to_string(i);
            auto plan = make_plan(sql + " -- rewritten");
            total += sql.size() + plan->sql.size();
            cache.insert(1, sql, plan);
            CHECK(cache.bytes() <= kBound);
            // The newest is kept; the entries held account for the bytes counted.
            CHECK(cache.find(1, sql) == plan);
        }
        CHECK(total > 4 * kBound);
        CHECK(cache.size() < 300);
        CHECK(cache.size() >= kBound / (2 * 121'000 + 4096));  // full, not emptied
        CHECK(cache.bytes() >= cache.size() * 2 * 60'000);
    }

    TEST_CASE("plan_cache: a plan larger than the bound is not kept; variants are apart") {
        PlanCache cache(16, 1000);
        cache.insert(1, "small", make_plan("s"));
        cache.insert(1, std::string(2000, 'x'), make_plan("big"));
        CHECK(cache.size() == 1);
        CHECK(cache.find(1, "small") != nullptr);
        auto a = make_plan("a");
        auto b = make_plan("b");
        cache.insert(1, "t", a, 0);
        cache.insert(1, "t", b, 1);
        CHECK(cache.find(1, "t", 0) == a);
        CHECK(cache.find(1, "t", 1) == b);
        // Re-inserting a text replaces its entry and its bytes.
        std::size_t before = cache.bytes();
        cache.insert(1, "t", make_plan("c"), 0);
        CHECK(cache.bytes() == before);
    }
}
