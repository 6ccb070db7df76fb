// The longer members of BasicResultQueue (protocol/result_queue.h, which includes this file;
// include that one). The rules they follow are described there.
#pragma once

#include "protocol/result_queue.h"

namespace pgrev::protocol {

template <class Payload>
bool BasicResultQueue<Payload>::push(Entry entry) {
    if (copy_reads_next_message()) {
        // PostgreSQL in copy-in reads this message, fails the COPY with it and discards it.
        copy_failed_ = true;
        return false;
    }
    if (skipping_to_sync_) {
        // After an error in extended mode the server discards every message but Sync.
        if (entry.kind != Kind::Sync) return false;
        skipping_to_sync_ = false;
    }
    if (is_query(entry.kind) || entry.kind == Kind::Sync || entry.kind == Kind::FunctionCall) {
        entry.point = readies_pushed_++;
    }
    if (entry.pending) ++pending_;
    entries_.push_back(std::move(entry));
    return true;
}

template <class Payload>
bool BasicResultQueue<Payload>::push_execute(Fix fix, Context context, std::uint64_t bind_point) {
    Entry entry{Kind::Execute, {}, std::move(context), {}};
    entry.execute_fix = fix;
    if (fix != Fix{} || entry.context) entry.point = bind_point;
    if (!push(std::move(entry))) return false;
    unsynced_ = true;
    return true;
}

template <class Payload>
void BasicResultQueue<Payload>::push_sync() {
    // During copy-in the server ignores Sync: it gets no ReadyForQuery.
    if (copy_reads_next_message()) return;
    push({Kind::Sync, {}, {}, {}});
    unsynced_ = false;
    untracked_since_sync_ = false;
}

template <class Payload>
void BasicResultQueue<Payload>::push_copy_end() {
    if (copy_in_) {
        copy_in_ = false;
        copy_failed_ = false;
        return;
    }
    if (skipping_to_sync_) return;  // discarded: it ends no later copy
    // The client ended a copy the server has not announced yet (or none at all): remember
    // where, for on_copy_in.
    entries_.push_back({Kind::CopyEnd, {}, {}, {}});
}

template <class Payload>
auto BasicResultQueue<Payload>::current_context() -> const Context& {
    static const Context none{};
    skip_copy_ends();
    if (entries_.empty() || portal_gone(entries_.front())) return none;
    return entries_.front().context;
}

template <class Payload>
auto BasicResultQueue<Payload>::current_fix() -> Fix {
    skip_copy_ends();
    if (entries_.empty()) return Fix{};
    const Entry& front = entries_.front();
    if (is_query(front.kind)) {
        return front.next < front.fixes.size() ? front.fixes[front.next] : Fix{};
    }
    if (front.kind != Kind::Execute || portal_gone(front)) return Fix{};
    return front.execute_fix;
}

template <class Payload>
auto BasicResultQueue<Payload>::complete_one() -> Fix {
    skip_copy_ends();
    if (!entries_.empty()) {
        Entry& front = entries_.front();
        if (is_query(front.kind)) {
            Fix fix = front.next < front.fixes.size() ? front.fixes[front.next] : Fix{};
            ++front.next;
            return fix;
        }
        if (front.kind == Kind::Execute) {
            Fix fix = portal_gone(front) ? Fix{} : front.execute_fix;
            pop_front();
            return fix;
        }
    }
    ++unmatched_;
    return Fix{};
}

template <class Payload>
auto BasicResultQueue<Payload>::take_front_pending(Kind kind) -> Pending {
    skip_copy_ends();
    if (entries_.empty() || entries_.front().kind != kind) {
        ++unmatched_;
        return {};
    }
    Pending pending = std::move(entries_.front().pending);
    if (pending) --pending_;
    entries_.pop_front();
    return pending;
}

template <class Payload>
void BasicResultQueue<Payload>::on_copy_in() {
    skip_copy_ends();
    copy_in_ = true;
    copy_failed_ = false;
    // The server now reads the messages sent after the COPY as copy input: Syncs are ignored
    // (their markers dropped), a CopyDone/CopyFail ends the copy, and any other message fails
    // the COPY and is discarded. If the client has sent none of these yet, push() sees it.
    auto it = entries_.empty() ? entries_.end() : std::next(entries_.begin());
    while (it != entries_.end()) {
        if (it->kind == Kind::Sync) {
            // An extended-protocol COPY then ends with the client's next Sync.
            if (entries_.front().kind == Kind::Execute) unsynced_ = true;
            it = erase(it);
            continue;
        }
        if (it->kind == Kind::CopyEnd) {
            entries_.erase(it);
            copy_in_ = false;
            return;
        }
        erase(it);
        copy_failed_ = true;
        return;
    }
}

template <class Payload>
void BasicResultQueue<Payload>::on_error() {
    skip_copy_ends();
    // An error during copy-in ends the COPY: what the client sends next is read as usual.
    if (copy_in_) copy_failed_ = true;
    if (entries_.empty()) {
        // The error of a message that gets no entry, a Bind or a Describe (extended: the
        // server skips to Sync, which the client has not sent yet), or a FATAL one, after
        // which nothing matters.
        skipping_to_sync_ = true;
        return;
    }
    Entry& front = entries_.front();
    // Simple query: the server runs no more of the group's statements; its Z ends it.
    if (is_query(front.kind)) return;
    if (front.kind == Kind::FunctionCall) return;
    // Extended query: the server discards every message up to the next Sync, a Query or a
    // FunctionCall pipelined in between included (a QueryExtended ends with a Sync).
    while (!entries_.empty() && entries_.front().kind != Kind::Sync &&
           entries_.front().kind != Kind::QueryExtended) {
        pop_front();
    }
    // No Sync sent yet: what the client sends until its next Sync is discarded unanswered,
    // however soon after this error it arrives.
    if (entries_.empty()) skipping_to_sync_ = true;
}

template <class Payload>
void BasicResultQueue<Payload>::on_ready_for_query(char transaction_status) {
    // Only a Sync's comes while skipping, and its push ended the skip; should another come,
    // the server reads messages again.
    skipping_to_sync_ = false;
    // Entries before the group or marker that Z ends are stale (a protocol oddity): drop them.
    while (!entries_.empty()) {
        Entry& entry = entries_.front();
        if (entry.kind == Kind::CopyEnd) {
            pop_front();
            continue;
        }
        if (entry.kind == Kind::Execute || entry.kind == Kind::Parse || entry.kind == Kind::Close ||
            entry.kind == Kind::OwnClose || entry.kind == Kind::ParseByClose) {
            ++unmatched_;
            pop_front();
            continue;
        }
        // The transaction is over: its portals are gone.
        if (transaction_status == 'I') idle_through_ = std::max(idle_through_, entry.point + 1);
        pop_front();
        return;
    }
}

}  // namespace pgrev::protocol
