// Which result belongs to which statement (docs/ARCHITECTURE.md, "Result queue"). The client side
// pushes an entry for every message that the server will answer with a completion; the server side
// pops them as the answers come, in order, so pipelined clients need no special case.
//
//   Q        one group per Query, holding each statement's tag fix in order; it lives until
//            ReadyForQuery. CommandComplete / EmptyQueryResponse advance to the next statement;
//            an ErrorResponse ends the statements (the server runs no more of them).
//   P        one entry popped by ParseComplete: an error while it is first is the Parse's own,
//            so its context tells whose text the error position refers to.
//   E        one entry with its portal's fix, popped by exactly one of CommandComplete,
//            PortalSuspended, EmptyQueryResponse or ErrorResponse.
//   C        one entry popped by CloseComplete.
//   c*       a Close pgrev sent for itself (OwnClose): its CloseComplete is not the client's.
//   P*       a Close pgrev sent in place of the client's Parse (ParseByClose): its
//            CloseComplete is answered to the client as ParseComplete, so that it comes where
//            the Parse's would, and not at all when the server skipped it after an error.
//   Q*       a Query pgrev sent as its own Parse (maybe), Bind, Execute and Sync
//            (QueryExtended, server/own_statements.h): a Query group of one statement to the
//            client, so it is answered like one; the ParseComplete, BindComplete and NoData
//            that come while it is first are pgrev's. Its Sync's ReadyForQuery ends it, and an
//            error stops at it as at a Sync marker.
//   S, F     a marker popped by ReadyForQuery. After an ErrorResponse in extended mode the
//            server skips to Sync, so every entry before the marker is dropped; when the
//            client has not sent that Sync yet, its messages until then get no entry (the
//            server discards each one but a Sync, whatever its kind: postgres.c).
//   c, f     CopyDone/CopyFail end a copy-in, during which the server ignores Sync: the Sync
//            markers between a CopyInResponse and the client's copy end are dropped. Any other
//            message the server reads in copy-in fails the COPY ("unexpected message type
//            during COPY from stdin", copyfromparse.c) and is discarded: it gets no entry.
//
// An entry may carry a pending change of the session's books (a statement name that a Parse
// defines, a Close drops): the session applies it when the answer confirms it; an entry
// dropped unanswered (an error, a skip to Sync) drops its change with it.
//
// What an entry carries is typed by the layer that fills the queue (the Payload parameter):
// protocol/ knows no SQL, so it cannot name a rewrite plan, yet a plan put in must come out
// as a plan, not as a void pointer cast back by whoever trusts the entry's kind. A class
// template keeps both: the queue only stores, moves and hands back its Payload's types.
// server/query_state.h instantiates it with the plan and the books' changes; the protocol
// tests and the fuzzer use OpaquePayload.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <vector>

namespace pgrev::protocol {

enum class ResultKind {
    Query,
    Parse,
    Execute,
    Close,
    Sync,
    FunctionCall,
    CopyEnd,
    OwnClose,
    ParseByClose,
    QueryExtended
};

// A Payload names three types:
//   Fix      what to do with a statement's CommandComplete; Fix{} leaves it alone.
//   Context  what the entry's text was made into (its rewrite plan); tested as a bool.
//   Pending  a change of the books the answer confirms; tested as a bool.
// Context and Pending are cheap to copy (shared pointers, or a few of them): entries share
// what they point to.

// For tests and the fuzzer: small numbers for fixes, anything for the rest.
struct OpaquePayload {
    using Fix = std::uint8_t;
    using Context = std::shared_ptr<const void>;
    using Pending = std::shared_ptr<const void>;
};
using TagFix = OpaquePayload::Fix;
constexpr TagFix kNoFix = 0;
using ResultContext = OpaquePayload::Context;

template <class Payload>
class BasicResultQueue {
  public:
    using Kind = ResultKind;
    using Fix = typename Payload::Fix;
    using Context = typename Payload::Context;
    using Pending = typename Payload::Pending;

    // The ordinal of the next transaction-ending answer (ReadyForQuery) a message sent now
    // comes before: an Execute of a portal bound at `bind_point()` finds it gone once a
    // ReadyForQuery that reported an idle session came in between.
    std::uint64_t bind_point() const { return readies_pushed_; }
    // A portal bound at `bind_point` is gone: a ReadyForQuery after it reported an idle session.
    bool portal_gone(std::uint64_t bind_point) const { return idle_through_ > bind_point; }

    // Each returns false when the server will not answer the message: it reads it as part of
    // a COPY, which that message fails, or discards it while skipping to Sync (see above).
    bool push_query(std::vector<Fix> statement_fixes, Context context = {}, Pending pending = {}) {
        return push(
            {Kind::Query, std::move(statement_fixes), std::move(context), std::move(pending)});
    }
    // A Query sent as extended-protocol messages ending with a Sync (Q* above).
    bool push_query_extended(std::vector<Fix> statement_fixes, Context context,
                             Pending pending = {}) {
        return push({Kind::QueryExtended, std::move(statement_fixes), std::move(context),
                     std::move(pending)});
    }
    bool push_parse(Context context, Pending pending = {}) {
        return push({Kind::Parse, {}, std::move(context), std::move(pending)});
    }
    // `bind_point`: where the portal's Bind was sent (bind_point()), with a fix or context.
    bool push_execute(Fix fix, Context context = {}, std::uint64_t bind_point = 0);
    bool push_close(Pending pending = {}) {
        return push({Kind::Close, {}, {}, std::move(pending)});
    }
    bool push_own_close(Pending pending = {}) {
        return push({Kind::OwnClose, {}, {}, std::move(pending)});
    }
    bool push_parse_by_close(Context context, Pending pending = {}) {
        return push({Kind::ParseByClose, {}, std::move(context), std::move(pending)});
    }
    void push_sync();
    bool push_function_call() { return push({Kind::FunctionCall, {}, {}, {}}); }
    void push_copy_end();  // the client sent CopyDone or CopyFail
    // A Bind: with an Execute, it runs code (and may change settings) that only the next Sync's
    // ReadyForQuery reports. Like a Describe, it gets no entry, yet fails a COPY that reads it.
    void note_bind() {
        unsynced_ = true;
        note_describe();
    }
    void note_describe() {
        if (copy_reads_next_message()) copy_failed_ = true;
        untracked_since_sync_ = true;
    }
    // A Bind or Describe was sent since the last Sync: its answer (or error) may still come,
    // with no entry to say whose it is.
    bool untracked_in_flight() const { return untracked_since_sync_; }

    // Answers to messages already sent are still to come (the settings the server reports may
    // yet change before the next message is read).
    bool awaiting_answers() const {
        return std::any_of(entries_.begin(), entries_.end(),
                           [](const Entry& e) { return e.kind != Kind::CopyEnd; });
    }
    // A message the server answers with ReadyForQuery (a Query, Sync or FunctionCall) is in
    // flight: the next message may be read in another transaction state than the last
    // ReadyForQuery reported, and after an error that only that ReadyForQuery will show.
    bool ready_in_flight() const {
        return std::any_of(entries_.begin(), entries_.end(), [](const Entry& e) {
            return is_query(e.kind) || e.kind == Kind::Sync || e.kind == Kind::FunctionCall;
        });
    }
    // Every message sent is followed by one the server answers with ReadyForQuery (a Sync, a
    // Query, a FunctionCall): waiting for the answers needs nothing more from the client.
    bool ready_will_follow() const { return !unsynced_ && !skipping_to_sync_; }
    // After an error in extended mode, the server discards what it reads until a Sync, and
    // the client has not sent that Sync yet.
    bool skipping_to_sync() const { return skipping_to_sync_; }
    // The server is in copy-in and reads the client's next message as part of the COPY.
    bool copy_reads_next_message() const { return copy_in_ && !copy_failed_; }

    // The context of the entry the next server message answers (empty when none).
    const Context& current_context();
    // The fix of the statement the next completion or error belongs to.
    Fix current_fix();
    // The entry the next server message answers, and within a Query group the statement.
    Kind current_kind() {
        skip_copy_ends();
        return entries_.empty() ? Kind::CopyEnd : entries_.front().kind;
    }
    std::size_t current_statement() {
        skip_copy_ends();
        return entries_.empty() ? 0 : entries_.front().next;
    }

    // The fix for this CommandComplete (Fix{} when none or nothing was pending).
    Fix on_command_complete() { return complete_one(); }
    // The answer is to a message pgrev sent as part of a QueryExtended (ParseComplete,
    // BindComplete, NoData): not the client's.
    bool answers_query_extended() {
        skip_copy_ends();
        return !entries_.empty() && entries_.front().kind == Kind::QueryExtended;
    }
    // The ParseComplete of a QueryExtended: the change it was waiting for (empty when none).
    Pending on_query_extended_parse() {
        Entry& front = entries_.front();
        Pending pending = std::move(front.pending);
        if (pending) --pending_;
        front.pending = {};
        return pending;
    }
    // The pending change of the Parse or Close answered (empty when none).
    Pending on_parse_complete() { return take_front_pending(Kind::Parse); }
    // Close, OwnClose or ParseByClose (current_kind() tells which, before this call).
    Pending on_close_complete() {
        Kind kind = current_kind();
        bool close = kind == Kind::OwnClose || kind == Kind::ParseByClose;
        return take_front_pending(close ? kind : Kind::Close);
    }
    void on_empty_query() { complete_one(); }
    void on_portal_suspended() { complete_one(); }
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
    static bool is_query(Kind kind) { return kind == Kind::Query || kind == Kind::QueryExtended; }
    struct Entry {
        Kind kind;
        std::vector<Fix> fixes;  // Query: per statement
        Context context;
        Pending pending;
        std::size_t next = 0;  // Query: the statement the next completion belongs to
        // Query, Sync, FunctionCall: which ReadyForQuery answers it (bind_point when sent).
        // Execute: bind_point of its portal's Bind.
        std::uint64_t point = kNoBind;
        Fix execute_fix{};  // Execute (not in `fixes`: no allocation per Execute)
    };

    bool push(Entry entry);
    void pop_front() {
        if (entries_.front().pending) --pending_;
        entries_.pop_front();
    }
    typename std::deque<Entry>::iterator erase(typename std::deque<Entry>::iterator it) {
        if (it->pending) --pending_;
        return entries_.erase(it);
    }
    // Pops the front entry if it is of `kind`, handing out its change; counts an unmatched
    // answer if not.
    Pending take_front_pending(Kind kind);
    // The Execute at the front runs a portal the server dropped at a transaction end since.
    bool portal_gone(const Entry& e) const {
        return e.kind == Kind::Execute && e.point != kNoBind && idle_through_ > e.point;
    }
    // Pops the Execute at the front, or advances the Query group; returns the fix.
    Fix complete_one();
    // CopyEnd markers get no answer: they only matter to on_copy_in.
    void skip_copy_ends() {
        while (!entries_.empty() && entries_.front().kind == Kind::CopyEnd)
            entries_.pop_front();
    }

    std::deque<Entry> entries_;
    std::uint64_t unmatched_ = 0;
    std::size_t pending_ = 0;  // entries with a pending change
    // The server entered copy-in and the client has not ended it yet; it may have failed it.
    bool copy_in_ = false;
    bool copy_failed_ = false;  // the server left that copy-in with an error
    bool unsynced_ = false;     // a Bind or Execute since the last Sync
    bool skipping_to_sync_ = false;
    bool untracked_since_sync_ = false;  // a Bind or Describe since the last Sync
    std::uint64_t readies_pushed_ = 0;
    std::uint64_t idle_through_ = 0;  // ReadyForQuery 'I' answered every point below this
};

using ResultQueue = BasicResultQueue<OpaquePayload>;

}  // namespace pgrev::protocol

// The longer members, apart so that the class reads as its interface.
#include "protocol/result_queue_impl.h"  // IWYU pragma: export
