// Which result belongs to which statement (DESIGN.md §3). The client side pushes an entry for
// every message that the server will answer with a completion; the server side pops them as
// the answers come, in order, so pipelined clients need no special case.
//
//   Q        one group per Query, holding each statement's tag fix in order; it lives until
//            ReadyForQuery. CommandComplete / EmptyQueryResponse advance to the next statement;
//            an ErrorResponse ends the statements (the server runs no more of them).
//   P        one entry popped by ParseComplete: an error while it is first is the Parse's own,
//            so its context tells whose text the error position refers to.
//   E        one entry with its portal's fix, popped by exactly one of CommandComplete,
//            PortalSuspended, EmptyQueryResponse or ErrorResponse.
//   S, F     a marker popped by ReadyForQuery. After an ErrorResponse in extended mode the
//            server skips to Sync, so every entry before the marker is dropped.
//   c, f     CopyDone/CopyFail end a copy-in, during which the server ignores Sync: the Sync
//            markers between a CopyInResponse and the client's copy end are dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace pgrev::protocol {

// What to do with a CommandComplete: 0 leaves it alone; other values are the caller's.
using TagFix = std::uint8_t;
constexpr TagFix kNoFix = 0;

// What the session attached to an entry (the rewrite plan of its text); opaque here.
using ResultContext = std::shared_ptr<const void>;

class ResultQueue {
  public:
    void push_query(std::vector<TagFix> statement_fixes, ResultContext context = nullptr);
    void push_parse(ResultContext context);
    void push_execute(TagFix fix, ResultContext context = nullptr);
    void push_sync();
    void push_function_call();
    void push_copy_end();  // the client sent CopyDone or CopyFail

    // The last Query, or the next Sync, may change a setting pgrev's reading of SQL depends on
    // (standard_conforming_strings, client_encoding): until its ReadyForQuery has come, with
    // the new value's ParameterStatus before it, analysis must wait.
    void mark_settings_barrier();
    bool settings_barrier_pending() const;
    // A pending barrier that a ReadyForQuery already expected will lift (not one waiting for a
    // Sync the client has not sent yet).
    bool settings_barrier_waitable() const { return barriers_ > 0; }

    // The context of the entry the next server message answers (null when none).
    const ResultContext& current_context();
    // The fix of the statement the next completion or error belongs to.
    TagFix current_fix();

    // The fix for this CommandComplete (kNoFix when none or nothing was pending).
    TagFix on_command_complete();
    void on_parse_complete();
    void on_empty_query();
    void on_portal_suspended();
    void on_copy_in();  // CopyInResponse
    void on_error();
    void on_ready_for_query();

    bool empty() const { return entries_.empty(); }
    std::size_t size() const { return entries_.size(); }
    // Completions that matched no pending entry: would mean pgrev lost track (the tests and
    // the fuzz target check it stays 0).
    std::uint64_t unmatched() const { return unmatched_; }

  private:
    enum class Kind { Query, Parse, Execute, Sync, FunctionCall, CopyEnd };
    struct Entry {
        Kind kind;
        std::vector<TagFix> fixes;  // Query: per statement; Execute: one
        ResultContext context;
        std::size_t next = 0;  // Query: the statement the next completion belongs to
        bool barrier = false;  // Query, Sync: see mark_settings_barrier
    };

    // Pops the Execute at the front, or advances the Query group; returns the fix.
    TagFix complete_one();
    // CopyEnd markers get no answer: they only matter to on_copy_in.
    void skip_copy_ends();

    std::deque<Entry> entries_;
    std::uint64_t unmatched_ = 0;
    bool copy_in_ = false;  // the server is in copy-in and the client has not ended it yet
    bool barrier_on_next_sync_ = false;
    int barriers_ = 0;  // barrier entries in the queue
};

}  // namespace pgrev::protocol
