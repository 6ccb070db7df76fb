#include "protocol/result_queue.h"

#include <iterator>

namespace pgrev::protocol {

void ResultQueue::push_query(std::vector<TagFix> statement_fixes, ResultContext context) {
    entries_.push_back({Kind::Query, std::move(statement_fixes), std::move(context)});
}

void ResultQueue::push_parse(ResultContext context) {
    entries_.push_back({Kind::Parse, {}, std::move(context)});
}

void ResultQueue::push_execute(TagFix fix, ResultContext context) {
    entries_.push_back({Kind::Execute, {fix}, std::move(context)});
}

void ResultQueue::push_sync() {
    // During copy-in the server ignores Sync: it gets no ReadyForQuery.
    if (copy_in_) return;
    entries_.push_back({Kind::Sync, {}, nullptr});
    if (barrier_on_next_sync_) {
        barrier_on_next_sync_ = false;
        entries_.back().barrier = true;
        ++barriers_;
    }
}

void ResultQueue::mark_settings_barrier() {
    if (!entries_.empty() && entries_.back().kind == Kind::Query && !entries_.back().barrier) {
        entries_.back().barrier = true;
        ++barriers_;
    } else {
        barrier_on_next_sync_ = true;  // a Parse: it takes effect by the next Sync
    }
}

bool ResultQueue::settings_barrier_pending() const {
    return barriers_ > 0 || barrier_on_next_sync_;
}

void ResultQueue::push_function_call() {
    entries_.push_back({Kind::FunctionCall, {}, nullptr});
}

void ResultQueue::push_copy_end() {
    if (copy_in_) {
        copy_in_ = false;
        return;
    }
    // The client ended a copy the server has not announced yet (or none at all): remember
    // where, for on_copy_in.
    entries_.push_back({Kind::CopyEnd, {}, nullptr});
}

void ResultQueue::skip_copy_ends() {
    while (!entries_.empty() && entries_.front().kind == Kind::CopyEnd)
        entries_.pop_front();
}

const ResultContext& ResultQueue::current_context() {
    static const ResultContext none;
    skip_copy_ends();
    return entries_.empty() ? none : entries_.front().context;
}

TagFix ResultQueue::current_fix() {
    skip_copy_ends();
    if (entries_.empty()) return kNoFix;
    const Entry& front = entries_.front();
    if (front.kind == Kind::Query) {
        return front.next < front.fixes.size() ? front.fixes[front.next] : kNoFix;
    }
    return front.kind == Kind::Execute ? front.fixes.front() : kNoFix;
}

TagFix ResultQueue::complete_one() {
    skip_copy_ends();
    if (!entries_.empty()) {
        Entry& front = entries_.front();
        if (front.kind == Kind::Query) {
            TagFix fix = front.next < front.fixes.size() ? front.fixes[front.next] : kNoFix;
            ++front.next;
            return fix;
        }
        if (front.kind == Kind::Execute) {
            TagFix fix = front.fixes.front();
            entries_.pop_front();
            return fix;
        }
    }
    ++unmatched_;
    return kNoFix;
}

TagFix ResultQueue::on_command_complete() {
    return complete_one();
}

void ResultQueue::on_parse_complete() {
    skip_copy_ends();
    if (!entries_.empty() && entries_.front().kind == Kind::Parse) {
        entries_.pop_front();
    } else {
        ++unmatched_;
    }
}

void ResultQueue::on_empty_query() {
    complete_one();
}

void ResultQueue::on_portal_suspended() {
    complete_one();
}

void ResultQueue::on_copy_in() {
    skip_copy_ends();
    // Syncs the client sent after the COPY and before its CopyDone/CopyFail are ignored by
    // the server: drop their markers. If the client has not ended the copy yet, the Syncs it
    // sends until then are not queued (push_sync).
    auto it = entries_.empty() ? entries_.end() : std::next(entries_.begin());
    while (it != entries_.end()) {
        if (it->kind == Kind::CopyEnd) {
            entries_.erase(it);
            return;
        }
        if (it->kind == Kind::Sync && it->barrier) {
            // The setting changes all the same; the client's next Sync shows it.
            --barriers_;
            barrier_on_next_sync_ = true;
        }
        it = it->kind == Kind::Sync ? entries_.erase(it) : std::next(it);
    }
    copy_in_ = true;
}

void ResultQueue::on_error() {
    skip_copy_ends();
    if (entries_.empty()) return;  // e.g. FATAL at any time
    Entry& front = entries_.front();
    // Simple query: the server runs no more of the group's statements; its Z ends it.
    if (front.kind == Kind::Query) return;
    if (front.kind == Kind::FunctionCall) return;
    // Extended query: the server discards every message up to the next Sync, a Query or a
    // FunctionCall pipelined in between included.
    while (!entries_.empty() && entries_.front().kind != Kind::Sync) {
        if (entries_.front().barrier) --barriers_;
        entries_.pop_front();
    }
}

void ResultQueue::on_ready_for_query() {
    // Entries before the group or marker that Z ends are stale (a protocol oddity): drop them.
    while (!entries_.empty()) {
        Entry entry = std::move(entries_.front());
        entries_.pop_front();
        if (entry.kind == Kind::CopyEnd) continue;
        if (entry.kind == Kind::Execute || entry.kind == Kind::Parse) {
            ++unmatched_;
            continue;
        }
        if (entry.barrier) --barriers_;
        return;
    }
}

}  // namespace pgrev::protocol
