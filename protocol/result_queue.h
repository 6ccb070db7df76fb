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
//   C        one entry popped by CloseComplete.
//   S, F     a marker popped by ReadyForQuery. After an ErrorResponse in extended mode the
//            server skips to Sync, so every entry before the marker is dropped.
//   c, f     CopyDone/CopyFail end a copy-in, during which the server ignores Sync: the Sync
//            markers between a CopyInResponse and the client's copy end are dropped. Any other
//            message the server reads in copy-in fails the COPY ("unexpected message type
//            during COPY from stdin", copyfromparse.c) and is discarded: it gets no entry.
//
// An entry may carry a pending change of the session's books (a statement name that a Parse
// defines, a Close drops): the session applies it when the answer confirms it; an entry
// dropped unanswered (an error, a skip to Sync) drops its change with it.
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

// What the session attached to an entry (the rewrite plan of its text, a pending change of
// its books); opaque here.
using ResultContext = std::shared_ptr<const void>;

class ResultQueue {
  public:
    enum class Kind { Query, Parse, Execute, Close, Sync, FunctionCall, CopyEnd };

    // The ordinal of the next transaction-ending answer (ReadyForQuery) a message sent now
    // comes before: an Execute of a portal bound at `bind_point()` finds it gone once a
    // ReadyForQuery that reported an idle session came in between.
    std::uint64_t bind_point() const { return readies_pushed_; }
    // A portal bound at `bind_point` is gone: a ReadyForQuery after it reported an idle session.
    bool portal_gone(std::uint64_t bind_point) const { return idle_through_ > bind_point; }

    // Each returns false when the server will not answer the message: it reads it as part of
    // a COPY, which that message fails (see above).
    bool push_query(std::vector<TagFix> statement_fixes, ResultContext context = nullptr,
                    ResultContext pending = nullptr);
    bool push_parse(ResultContext context, ResultContext pending = nullptr);
    // `bind_point`: where the portal's Bind was sent (bind_point()), with a fix or context.
    bool push_execute(TagFix fix, ResultContext context = nullptr,
                      std::uint64_t bind_point = 0);
    bool push_close(ResultContext pending = nullptr);
    void push_sync();
    bool push_function_call();
    void push_copy_end();  // the client sent CopyDone or CopyFail
    // A Bind: with an Execute, it runs code (and may change settings) that only the next Sync's
    // ReadyForQuery reports. Like a Describe, it gets no entry, yet fails a COPY that reads it.
    void note_bind() {
        unsynced_ = true;
        note_describe();
    }
    void note_describe() {
        if (copy_reads_next_message()) copy_failed_ = true;
    }

    // Answers to messages already sent are still to come (the settings the server reports may
    // yet change before the next message is read).
    bool awaiting_answers() const;
    // Every message sent is followed by one the server answers with ReadyForQuery (a Sync, a
    // Query, a FunctionCall): waiting for the answers needs nothing more from the client.
    bool ready_will_follow() const { return !unsynced_; }
    // The server is in copy-in and reads the client's next message as part of the COPY.
    bool copy_reads_next_message() const { return copy_in_ && !copy_failed_; }

    // The context of the entry the next server message answers (null when none).
    const ResultContext& current_context();
    // The fix of the statement the next completion or error belongs to.
    TagFix current_fix();
    // The entry the next server message answers, and within a Query group the statement.
    Kind current_kind();
    std::size_t current_statement();

    // The fix for this CommandComplete (kNoFix when none or nothing was pending).
    TagFix on_command_complete();
    // The pending change of the Parse or Close answered (null when none).
    ResultContext on_parse_complete();
    ResultContext on_close_complete();
    void on_empty_query();
    void on_portal_suspended();
    void on_copy_in();  // CopyInResponse
    void on_error();
    // `transaction_status` of the ReadyForQuery ('I' idle, 'T', 'E'; 0 when not known).
    void on_ready_for_query(char transaction_status = 0);

    // Pending changes and contexts still in flight, newest first, until `visit(kind, context,
    // pending)` returns true: what the session's books will be once they are confirmed.
    template <class Visit>
    bool find_in_flight(Visit&& visit) const {
        for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
            if (visit(it->kind, it->context, it->pending)) return true;
        }
        return false;
    }
    bool has_pending() const { return pending_ > 0; }

    bool empty() const { return entries_.empty(); }
    std::size_t size() const { return entries_.size(); }
    // Answers that matched no pending entry: pgrev lost track of the protocol (the session
    // ends when this is not 0).
    std::uint64_t unmatched() const { return unmatched_; }

  private:
    static constexpr std::uint64_t kNoBind = ~std::uint64_t{0};
    struct Entry {
        Kind kind;
        std::vector<TagFix> fixes;  // Query: per statement; Execute: one
        ResultContext context;
        ResultContext pending;
        std::size_t next = 0;  // Query: the statement the next completion belongs to
        // Query, Sync, FunctionCall: which ReadyForQuery answers it (bind_point when sent).
        // Execute: bind_point of its portal's Bind.
        std::uint64_t point = kNoBind;
    };

    bool push(Entry entry);
    void pop_front();
    ResultContext take_front_pending();  // pops the front entry, handing out its change
    std::deque<Entry>::iterator erase(std::deque<Entry>::iterator it);
    // The Execute at the front runs a portal the server dropped at a transaction end since.
    bool portal_gone(const Entry& e) const;
    // Pops the Execute at the front, or advances the Query group; returns the fix.
    TagFix complete_one();
    // CopyEnd markers get no answer: they only matter to on_copy_in.
    void skip_copy_ends();

    std::deque<Entry> entries_;
    std::uint64_t unmatched_ = 0;
    std::size_t pending_ = 0;  // entries with a pending change
    // The server entered copy-in and the client has not ended it yet; it may have failed it.
    bool copy_in_ = false;
    bool copy_failed_ = false;  // the server left that copy-in with an error
    bool unsynced_ = false;     // a Bind or Execute since the last Sync
    std::uint64_t readies_pushed_ = 0;
    std::uint64_t idle_through_ = 0;  // ReadyForQuery 'I' answered every point below this
};

}  // namespace pgrev::protocol
