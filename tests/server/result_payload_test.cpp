// The result queue of a session carries typed payloads: plans come back as plans and the
// books' changes as what they are, with no cast on the way (protocol/result_queue.h).
#include <doctest/doctest.h>

#include <type_traits>

#include "server/query_state.h"

using namespace pgrev;
using server::BooksChange;
using server::ResultPayload;
using server::StatementChange;

static_assert(std::is_same_v<decltype(std::declval<server::ResultQueue&>().current_context()),
                             const std::shared_ptr<const audit::RewritePlan>&>);
static_assert(
    std::is_same_v<decltype(std::declval<server::ResultQueue&>().current_fix()), audit::TagVerb>);
static_assert(std::is_same_v<decltype(std::declval<server::ResultQueue&>().on_parse_complete()),
                             BooksChange>);
// The queue's "leave the tag alone" is the verb None.
static_assert(audit::TagVerb{} == audit::TagVerb::None);

TEST_SUITE("server") {
    TEST_CASE("result payload: a plan and a verb come back as they went in") {
        server::ResultQueue q;
        auto plan = std::make_shared<audit::RewritePlan>();
        plan->sql = "rewritten";
        q.push_query({audit::TagVerb::None, audit::TagVerb::Delete}, plan);
        CHECK(q.current_context()->sql == "rewritten");
        CHECK(q.on_command_complete() == audit::TagVerb::None);
        CHECK(q.current_fix() == audit::TagVerb::Delete);
        CHECK(q.on_command_complete() == audit::TagVerb::Delete);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result payload: the books see a Parse's name and a Query's PREPARE in flight") {
        server::QueryState state;
        server::RewrittenStatement rewritten;
        rewritten.restore_tag = audit::TagVerb::Update;
        state.results.push_parse(nullptr, BooksChange::renaming("s1", rewritten));
        auto prepare = std::make_shared<audit::RewritePlan>();
        audit::StatementPlan st;
        st.prepared_op = audit::PreparedOp::Prepare;
        st.prepared_name = "s2";
        st.prepared_tag = audit::TagVerb::Insert;
        prepare->statements.push_back(st);
        BooksChange prepares;
        prepares.sql = prepare;
        state.results.push_query({audit::TagVerb::None}, prepare, prepares);
        state.results.push_sync();

        CHECK(state.has_names());
        auto s1 = state.statement_in_flight("s1");
        REQUIRE(s1);
        CHECK(s1->restore_tag == audit::TagVerb::Update);
        auto s2 = state.statement_in_flight("s2");
        REQUIRE(s2);
        CHECK(s2->restore_tag == audit::TagVerb::Insert);
        CHECK_FALSE(state.statement_in_flight("s3"));

        // ParseComplete confirms s1; the PREPARE's CommandComplete confirms s2.
        auto change = state.results.on_parse_complete();
        REQUIRE(change.name);
        state.apply(*change.name);
        CHECK(state.statements.at("s1").restore_tag == audit::TagVerb::Update);
        CHECK(state.confirm(st, state.results.on_command_complete()) == audit::TagVerb::None);
        CHECK(state.sql_prepared.at("s2") == audit::TagVerb::Insert);
    }
}
