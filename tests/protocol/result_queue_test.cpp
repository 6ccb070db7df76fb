#include <doctest/doctest.h>

#include "protocol/result_queue.h"

using namespace pgrev::protocol;

namespace {
constexpr TagFix kUpdate = 2;
constexpr TagFix kDelete = 3;
constexpr TagFix kInsert = 1;
}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("result_queue: a Query group hands out its statement fixes in order") {
        ResultQueue q;
        q.push_query({kNoFix, kUpdate, kNoFix, kDelete});
        CHECK(q.size() == 1);
        CHECK(q.on_command_complete() == kNoFix);
        CHECK(q.on_command_complete() == kUpdate);
        q.on_empty_query();  // an empty statement advances too
        CHECK(q.on_command_complete() == kDelete);
        CHECK(q.size() == 1);  // the group lives until ReadyForQuery
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a Query group without fixes lets everything pass") {
        ResultQueue q;
        q.push_query({});
        CHECK(q.on_command_complete() == kNoFix);
        CHECK(q.on_command_complete() == kNoFix);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error ends the Query group's statements until Z") {
        ResultQueue q;
        q.push_query({kUpdate, kDelete, kInsert});
        q.push_query({kInsert});
        CHECK(q.on_command_complete() == kUpdate);
        q.on_error();  // the second statement failed, the third never runs
        CHECK(q.size() == 2);
        q.on_ready_for_query();
        CHECK(q.size() == 1);
        // The next Query's first completion gets its own fix, not the failed group's.
        CHECK(q.on_command_complete() == kInsert);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: each Execute is popped by exactly one completion") {
        ResultQueue q;
        q.push_execute(kUpdate);
        q.push_execute(kNoFix);
        q.push_execute(kDelete);
        q.push_execute(kInsert);
        q.push_sync();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_portal_suspended();  // the second portal stopped at its row limit
        CHECK(q.on_command_complete() == kDelete);
        q.on_empty_query();
        CHECK(q.size() == 1);  // only the Sync marker
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a suspended portal executed again gets a new entry") {
        ResultQueue q;
        q.push_execute(kUpdate);
        q.push_sync();
        q.on_portal_suspended();
        q.on_ready_for_query();
        q.push_execute(kUpdate);
        q.push_sync();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error in extended mode drops the Executes up to Sync") {
        ResultQueue q;
        // Pipelined: Parse/Bind/Execute three times, then Sync, then a second batch.
        q.push_execute(kInsert);
        q.push_execute(kUpdate);
        q.push_execute(kDelete);
        q.push_sync();
        q.push_execute(kDelete);
        q.push_sync();
        CHECK(q.on_command_complete() == kInsert);
        q.on_error();  // the second Execute failed; the server skips the third
        CHECK(q.size() == 3);
        q.on_ready_for_query();
        // The next batch's completion is matched to its own Execute.
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error before the first Execute of a batch") {
        ResultQueue q;
        q.push_execute(kUpdate);  // its Parse or Bind fails: no completion for it
        q.push_execute(kDelete);
        q.push_sync();
        q.push_query({kInsert});
        q.on_error();
        q.on_ready_for_query();
        CHECK(q.size() == 1);
        CHECK(q.on_command_complete() == kInsert);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error at Sync (deferred constraint) keeps the next batch") {
        ResultQueue q;
        q.push_execute(kUpdate);
        q.push_sync();
        q.push_execute(kDelete);
        q.push_sync();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_error();  // the commit at Sync failed
        CHECK(q.size() == 3);
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: Executes and a Query pipelined together") {
        ResultQueue q;
        q.push_execute(kUpdate);
        q.push_sync();
        q.push_query({kNoFix, kDelete});
        q.push_execute(kInsert);
        q.push_sync();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kNoFix);
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kInsert);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a FunctionCall marker is popped by Z and survives an error") {
        ResultQueue q;
        q.push_function_call();
        q.push_execute(kUpdate);
        q.push_sync();
        q.on_error();  // the function call failed
        CHECK(q.size() == 3);
        q.on_ready_for_query();
        CHECK(q.size() == 2);
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: completions that match nothing are counted") {
        ResultQueue q;
        CHECK(q.on_command_complete() == kNoFix);  // nothing pending
        CHECK(q.unmatched() == 1);
        q.on_empty_query();
        CHECK(q.unmatched() == 2);
        q.on_error();  // a FATAL may come at any time: not a completion
        CHECK(q.unmatched() == 2);
        q.push_sync();
        CHECK(q.on_command_complete() == kNoFix);  // a completion where Z was expected
        CHECK(q.unmatched() == 3);
        CHECK(q.size() == 1);  // the marker is still there
        q.push_function_call();
        q.on_ready_for_query();
        q.on_portal_suspended();  // the front is the FunctionCall marker
        CHECK(q.unmatched() == 4);
        q.on_ready_for_query();
        CHECK(q.empty());
        q.on_ready_for_query();  // Z with nothing pending changes nothing
        CHECK(q.unmatched() == 4);
    }

    TEST_CASE("result_queue: Z drops Executes that no completion answered") {
        ResultQueue q;
        q.push_execute(kUpdate);
        q.push_execute(kDelete);
        q.push_sync();
        q.push_execute(kInsert);
        q.on_ready_for_query();  // out of step: both Executes were never answered
        CHECK(q.unmatched() == 2);
        CHECK(q.size() == 1);
        CHECK(q.on_command_complete() == kInsert);
    }
}

// Regressions found in review: both left one marker too many, so every later tag was the
// previous statement's.
TEST_SUITE("protocol") {
    TEST_CASE("result_queue: a Query pipelined after an extended-mode error is skipped too") {
        ResultQueue q;
        q.push_parse(nullptr);
        q.push_execute(kNoFix);
        q.push_query({kNoFix});  // sent before the Sync: the server skips it
        q.push_sync();
        q.push_query({kUpdate});  // after the Sync: runs
        q.on_parse_complete();
        q.on_error();  // the Execute fails
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: Syncs during an extended-protocol copy-in get no ReadyForQuery") {
        // libpq's PQexecParams("COPY ... FROM STDIN"): P B D E S, then data, CopyDone, S.
        ResultQueue q;
        q.push_parse(nullptr);
        q.push_execute(kNoFix);
        q.push_sync();
        q.on_parse_complete();
        q.on_copy_in();     // the server ignores the Sync already sent
        q.push_sync();      // ... and any sent before the copy ends
        q.push_copy_end();  // CopyDone
        q.push_sync();
        CHECK(q.on_command_complete() == kNoFix);  // COPY n
        q.on_ready_for_query();
        CHECK(q.empty());
        q.push_query({kUpdate});
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a copy ended before the server announced it") {
        ResultQueue q;
        q.push_query({kNoFix});  // COPY t FROM STDIN
        q.push_sync();           // ignored by the server during copy-in
        q.push_copy_end();       // the client did not wait for CopyInResponse
        q.push_query({kDelete});
        q.on_copy_in();
        CHECK(q.on_command_complete() == kNoFix);
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a copy that failed before it started leaves no marker behind") {
        ResultQueue q;
        q.push_query({kNoFix});  // COPY nosuch FROM STDIN: fails at once
        q.push_copy_end();       // the client's data and CopyDone are ignored
        q.push_query({kUpdate});
        q.on_error();
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }
}

// Regression found by fuzz/ (fuzz_message_stream): a settings barrier on a Sync the server
// ignored during copy-in was never lifted, and the session waited for ever.
TEST_SUITE("protocol") {
    TEST_CASE("result_queue: a settings barrier survives a copy-in that drops its Sync") {
        // P(SET client_encoding) B E, P(COPY ... FROM STDIN) B E, S in one batch.
        ResultQueue q;
        q.push_parse(nullptr);
        q.mark_settings_barrier();
        q.push_execute(kNoFix);
        q.push_parse(nullptr);
        q.push_execute(kNoFix);
        q.push_sync();  // carries the barrier, but the server ignores it during copy-in
        CHECK(q.settings_barrier_waitable());
        q.on_parse_complete();
        q.on_command_complete();  // SET
        q.on_parse_complete();
        q.on_copy_in();
        CHECK(q.settings_barrier_pending());
        q.push_copy_end();
        q.push_sync();  // the Sync the server answers now carries it
        CHECK(q.settings_barrier_waitable());
        q.on_command_complete();  // COPY n
        q.on_ready_for_query();
        CHECK_FALSE(q.settings_barrier_pending());
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }
}
