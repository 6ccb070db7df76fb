#include <doctest/doctest.h>

#include <memory>

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

    // psycopg 3's pipeline sends each statement as it is executed and the Sync at the end: the
    // error can arrive before the messages it makes the server discard (a race, seen in CI).
    TEST_CASE("result_queue: messages sent after an extended-mode error, before its Sync") {
        ResultQueue q;
        q.push_parse(nullptr);
        q.note_bind();
        q.push_execute(kUpdate);
        q.on_error();  // its Parse or Execute failed; no Sync sent yet
        CHECK(q.empty());
        CHECK(q.skipping_to_sync());
        CHECK_FALSE(q.ready_will_follow());
        // Discarded by the server, unanswered: no entry, whatever the kind.
        CHECK_FALSE(q.push_parse(nullptr, std::make_shared<int>(1)));
        CHECK_FALSE(q.push_execute(kDelete));
        CHECK_FALSE(q.push_close());
        CHECK_FALSE(q.push_own_close());
        CHECK_FALSE(q.push_parse_by_close(nullptr));
        CHECK_FALSE(q.push_query({kInsert}));
        CHECK_FALSE(q.push_function_call());
        q.push_copy_end();  // a CopyDone is discarded too: it ends no later copy
        CHECK(q.empty());
        CHECK_FALSE(q.has_pending());
        q.push_sync();  // the one the server reads
        CHECK_FALSE(q.skipping_to_sync());
        q.push_execute(kDelete);  // after the Sync: answered
        q.push_sync();
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error while nothing is pending is a Bind's or a Describe's") {
        ResultQueue q;
        q.push_parse(nullptr);
        q.on_parse_complete();
        q.note_bind();
        q.on_error();  // the Bind failed: the server skips to the Sync still to come
        CHECK(q.skipping_to_sync());
        CHECK_FALSE(q.push_execute(kUpdate));
        q.push_sync();
        q.on_ready_for_query();
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error with its Sync already sent skips nothing after it") {
        ResultQueue q;
        q.push_execute(kUpdate);
        q.push_sync();
        q.on_error();
        CHECK_FALSE(q.skipping_to_sync());
        CHECK(q.push_execute(kDelete));  // after the Sync: the server reads it
        q.push_sync();
        q.on_ready_for_query();
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query();
        CHECK(q.unmatched() == 0);
        // Errors of a simple Query or at a Sync (a deferred constraint) make no skip either.
        q.push_query({kInsert});
        q.on_error();
        CHECK_FALSE(q.skipping_to_sync());
        q.on_ready_for_query();
        q.push_sync();
        q.on_error();
        CHECK_FALSE(q.skipping_to_sync());
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

// Settings (issue 7, item 2): pgrev waits for answers in flight only when a ReadyForQuery will
// end them without more from the client.
TEST_SUITE("protocol") {
    TEST_CASE("result_queue: answers in flight, and whether a ReadyForQuery will end them") {
        ResultQueue q;
        CHECK_FALSE(q.awaiting_answers());
        CHECK(q.ready_will_follow());
        q.push_parse(nullptr);
        CHECK(q.ready_will_follow());  // a Parse runs nothing
        q.note_bind();
        q.push_execute(kNoFix);
        CHECK(q.awaiting_answers());
        CHECK_FALSE(q.ready_will_follow());  // what the Execute changes shows at the next Sync
        q.push_sync();
        CHECK(q.ready_will_follow());
        q.on_parse_complete();
        q.on_command_complete();
        CHECK(q.awaiting_answers());
        q.on_ready_for_query('I');
        CHECK_FALSE(q.awaiting_answers());
        q.push_copy_end();  // a marker the server never answers is not awaited
        CHECK_FALSE(q.awaiting_answers());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a copy-in that drops its Sync still ends with the next one") {
        // P(SET client_encoding) B E, P(COPY ... FROM STDIN) B E, S in one batch.
        ResultQueue q;
        q.push_parse(nullptr);
        q.push_execute(kNoFix);
        q.push_parse(nullptr);
        q.push_execute(kNoFix);
        q.push_sync();  // the server ignores it during copy-in
        q.on_parse_complete();
        q.on_command_complete();  // SET
        q.on_parse_complete();
        q.on_copy_in();
        CHECK_FALSE(q.ready_will_follow());
        q.push_copy_end();
        q.push_sync();  // the Sync the server answers
        CHECK(q.ready_will_follow());
        q.on_command_complete();  // COPY n
        q.on_ready_for_query();
        CHECK_FALSE(q.awaiting_answers());
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }
}

// COPY (issue 7, item 13): PostgreSQL in copy-in reads any message but copy data, Sync and
// Flush as "unexpected message type during COPY from stdin": the COPY fails, the message is
// discarded unanswered.
TEST_SUITE("protocol") {
    TEST_CASE("result_queue: a message the server reads during copy-in gets no entry") {
        ResultQueue q;
        q.push_query({kNoFix});  // COPY t FROM STDIN
        q.on_copy_in();
        CHECK(q.copy_reads_next_message());
        q.push_sync();  // ignored by the server
        CHECK(q.size() == 1);
        CHECK_FALSE(q.push_query({kUpdate}));  // fails the COPY, never answered
        CHECK_FALSE(q.copy_reads_next_message());
        CHECK(q.size() == 1);
        q.on_error();  // 08P01 unexpected message type 0x51
        q.on_ready_for_query('I');
        CHECK(q.empty());
        q.push_copy_end();  // the client's CopyDone, which the server ignores now
        CHECK(q.empty());
        CHECK(q.push_query({kDelete}));
        CHECK(q.on_command_complete() == kDelete);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a message already sent behind the COPY fails it") {
        ResultQueue q;
        q.push_query({kNoFix});   // COPY t FROM STDIN
        q.push_query({kDelete});  // read during copy-in: discarded
        q.push_query({kUpdate});  // read after the COPY failed: runs
        q.on_copy_in();
        CHECK_FALSE(q.copy_reads_next_message());
        CHECK(q.size() == 2);
        q.on_error();
        q.on_ready_for_query('I');
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error during copy-in ends it for what follows") {
        ResultQueue q;
        q.push_query({kNoFix});  // COPY t FROM STDIN, bad data
        q.on_copy_in();
        q.on_error();
        q.on_ready_for_query('I');
        CHECK(q.push_query({kUpdate}));  // the server reads it as a Query again
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }
}

TEST_SUITE("protocol") {
    TEST_CASE("result_queue: an extended-protocol copy that fails before the client's CopyDone") {
        ResultQueue q;
        q.push_parse(nullptr);  // COPY t FROM STDIN, its Sync sent later
        q.note_bind();
        q.push_execute(kNoFix);
        q.on_parse_complete();
        q.on_copy_in();
        q.on_error();  // bad data: the copy is over, the server skips to Sync
        CHECK(q.skipping_to_sync());
        q.push_copy_end();  // the client's CopyDone, discarded, ends its side of the copy
        CHECK_FALSE(q.copy_reads_next_message());
        CHECK_FALSE(q.push_execute(kUpdate));
        q.push_sync();
        q.on_ready_for_query('I');
        // The next COPY, whose CopyDone pgrev sends before the server's CopyInResponse
        // comes: the copy is over when it comes (the first copy's state is gone).
        CHECK(q.push_query({kNoFix}));
        q.push_copy_end();
        q.on_copy_in();
        CHECK_FALSE(q.copy_reads_next_message());
        CHECK(q.on_command_complete() == kNoFix);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a Bind or Describe since the last Sync is in flight untracked") {
        ResultQueue q;
        CHECK_FALSE(q.untracked_in_flight());
        q.note_describe();
        CHECK(q.untracked_in_flight());
        CHECK(q.empty());  // no entry says so
        q.push_sync();
        CHECK_FALSE(q.untracked_in_flight());
        q.note_bind();
        CHECK(q.untracked_in_flight());
        q.push_sync();
        q.on_ready_for_query('I');
        q.on_ready_for_query('I');
        CHECK_FALSE(q.untracked_in_flight());
    }
}

// Books (issue 7, item 10): a change waits on its entry for the answer that confirms it.
TEST_SUITE("protocol") {
    TEST_CASE("result_queue: a Parse's pending change comes back with ParseComplete") {
        ResultQueue q;
        auto change = std::make_shared<int>(7);
        q.push_parse(nullptr, change);
        CHECK(q.has_pending());
        ResultContext confirmed = q.on_parse_complete();
        CHECK(confirmed == change);
        CHECK_FALSE(q.has_pending());
        CHECK(q.on_parse_complete() == nullptr);  // nothing sent
        CHECK(q.unmatched() == 1);
    }

    TEST_CASE("result_queue: an error drops the pending changes it skips") {
        ResultQueue q;
        q.push_parse(nullptr, std::make_shared<int>(1));  // fails (42P05)
        q.push_close(std::make_shared<int>(2));           // skipped to Sync
        q.push_sync();
        q.push_parse(nullptr, std::make_shared<int>(3));
        q.push_sync();
        CHECK(q.has_pending());
        q.on_error();
        q.on_ready_for_query('I');
        ResultContext confirmed = q.on_parse_complete();
        REQUIRE(confirmed);
        CHECK(*static_cast<const int*>(confirmed.get()) == 3);
        CHECK_FALSE(q.has_pending());
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: changes in flight are visited newest first") {
        ResultQueue q;
        q.push_parse(nullptr, std::make_shared<int>(1));
        q.push_query({}, nullptr, std::make_shared<int>(2));
        q.push_close(std::make_shared<int>(3));
        std::vector<int> seen;
        q.find_in_flight([&](ResultQueue::Kind, const ResultContext&, const ResultContext& p) {
            if (p) seen.push_back(*static_cast<const int*>(p.get()));
            return false;
        });
        CHECK(seen == std::vector<int>{3, 2, 1});
    }

    TEST_CASE("result_queue: CloseComplete pops a Close and nothing else") {
        ResultQueue q;
        q.push_close(nullptr);
        q.push_sync();
        CHECK(q.on_close_complete() == nullptr);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
        q.push_sync();
        q.on_close_complete();  // answers nothing pgrev sent
        CHECK(q.unmatched() == 1);
    }

    TEST_CASE("result_queue: a portal is gone after a ReadyForQuery that reports idle") {
        ResultQueue q;
        auto plan = std::make_shared<int>(1);
        std::uint64_t bound = q.bind_point();
        q.push_execute(kDelete, plan, bound);
        q.push_sync();
        q.push_execute(kDelete, plan, bound);  // the same portal, next transaction
        q.push_sync();
        CHECK(q.current_context() == plan);
        CHECK(q.on_command_complete() == kDelete);
        CHECK_FALSE(q.portal_gone(bound));
        q.on_ready_for_query('I');  // the implicit transaction ended at Sync
        CHECK(q.portal_gone(bound));
        // The name now is some other portal (a cursor DECLAREd since): no fix, no context.
        CHECK(q.current_context() == nullptr);
        CHECK(q.current_fix() == kNoFix);
        CHECK(q.on_command_complete() == kNoFix);
        q.on_ready_for_query('I');
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: a portal lives on in a transaction block") {
        ResultQueue q;
        std::uint64_t bound = q.bind_point();
        q.push_execute(kUpdate, nullptr, bound);
        q.push_sync();
        q.push_execute(kUpdate, nullptr, bound);
        q.push_sync();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query('T');
        CHECK_FALSE(q.portal_gone(bound));
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query('I');
        CHECK(q.portal_gone(bound));
        CHECK_FALSE(q.portal_gone(q.bind_point()));  // a Bind sent now is in a new transaction
        CHECK(q.unmatched() == 0);
    }
}

TEST_SUITE("protocol") {
    TEST_CASE("result_queue: pgrev's own Closes and a Parse answered by a Close") {
        ResultQueue q;
        CHECK(q.push_own_close());
        CHECK(q.push_parse_by_close(nullptr));
        q.push_execute(kUpdate);
        q.push_sync();
        CHECK(q.ready_in_flight());
        CHECK(q.current_kind() == ResultKind::OwnClose);
        q.on_close_complete();
        CHECK(q.current_kind() == ResultKind::ParseByClose);
        q.on_close_complete();
        CHECK(q.on_command_complete() == kUpdate);
        q.on_ready_for_query('I');
        CHECK(q.empty());
        CHECK_FALSE(q.ready_in_flight());
        CHECK(q.unmatched() == 0);
    }

    TEST_CASE("result_queue: an error before a Parse answered by a Close drops it") {
        ResultQueue q;
        q.push_execute(kNoFix);
        CHECK(q.push_parse_by_close(nullptr));
        q.push_execute(kUpdate);
        q.push_sync();
        q.on_error();  // the first Execute failed: the server skips the Close
        CHECK(q.current_kind() == ResultKind::Sync);
        q.on_ready_for_query('E');
        CHECK(q.empty());
        CHECK(q.unmatched() == 0);
    }
}
