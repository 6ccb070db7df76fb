#include "protocol/result_queue.h"

#include <algorithm>
#include <iterator>

namespace pgrev::protocol {

bool ResultQueue::push(Entry entry) {
    if (copy_reads_next_message()) {
        // PostgreSQL in copy-in reads this message, fails the COPY with it and discards it.
        copy_failed_ = true;
        return false;
    }
    if (entry.kind == Kind::Query || entry.kind == Kind::Sync ||
        entry.kind == Kind::FunctionCall) {
        entry.point = readies_pushed_++;
    }
    if (entry.pending) ++pending_;
    entries_.push_back(std::move(entry));
    return true;
}

void ResultQueue::pop_front() {
    if (entries_.front().pending) --pending_;
    entries_.pop_front();
}

std::deque<ResultQueue::Entry>::iterator ResultQueue::erase(std::deque<Entry>::iterator it) {
    if (it->pending) --pending_;
    return entries_.erase(it);
}

bool ResultQueue::push_query(std::vector<TagFix> statement_fixes, ResultContext context,
                             ResultContext pending) {
    return push({Kind::Query, std::move(statement_fixes), std::move(context), std::move(pending)});
}

bool ResultQueue::push_parse(ResultContext context, ResultContext pending) {
    return push({Kind::Parse, {}, std::move(context), std::move(pending)});
}

bool ResultQueue::push_execute(TagFix fix, ResultContext context, std::uint64_t bind_point) {
    Entry entry{Kind::Execute, {fix}, std::move(context), nullptr};
    if (fix != kNoFix || entry.context) entry.point = bind_point;
    if (!push(std::move(entry))) return false;
    unsynced_ = true;
    return true;
}

bool ResultQueue::push_close(ResultContext pending) {
    return push({Kind::Close, {}, nullptr, std::move(pending)});
}

void ResultQueue::push_sync() {
    // During copy-in the server ignores Sync: it gets no ReadyForQuery.
    if (copy_reads_next_message()) return;
    push({Kind::Sync, {}, nullptr, nullptr});
    unsynced_ = false;
}

bool ResultQueue::push_function_call() {
    return push({Kind::FunctionCall, {}, nullptr, nullptr});
}

void ResultQueue::push_copy_end() {
    if (copy_in_) {
        copy_in_ = false;
        copy_failed_ = false;
        return;
    }
    // The client ended a copy the server has not announced yet (or none at all): remember
    // where, for on_copy_in.
    entries_.push_back({Kind::CopyEnd, {}, nullptr, nullptr});
}

bool ResultQueue::awaiting_answers() const {
    return std::any_of(entries_.begin(), entries_.end(),
                       [](const Entry& e) { return e.kind != Kind::CopyEnd; });
}

void ResultQueue::skip_copy_ends() {
    while (!entries_.empty() && entries_.front().kind == Kind::CopyEnd)
        entries_.pop_front();
}

bool ResultQueue::portal_gone(const Entry& e) const {
    return e.kind == Kind::Execute && e.point != kNoBind && idle_through_ > e.point;
}

const ResultContext& ResultQueue::current_context() {
    static const ResultContext none;
    skip_copy_ends();
    if (entries_.empty() || portal_gone(entries_.front())) return none;
    return entries_.front().context;
}

TagFix ResultQueue::current_fix() {
    skip_copy_ends();
    if (entries_.empty()) return kNoFix;
    const Entry& front = entries_.front();
    if (front.kind == Kind::Query) {
        return front.next < front.fixes.size() ? front.fixes[front.next] : kNoFix;
    }
    if (front.kind != Kind::Execute || portal_gone(front)) return kNoFix;
    return front.fixes.front();
}

ResultQueue::Kind ResultQueue::current_kind() {
    skip_copy_ends();
    return entries_.empty() ? Kind::CopyEnd : entries_.front().kind;
}

std::size_t ResultQueue::current_statement() {
    skip_copy_ends();
    return entries_.empty() ? 0 : entries_.front().next;
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
            TagFix fix = portal_gone(front) ? kNoFix : front.fixes.front();
            pop_front();
            return fix;
        }
    }
    ++unmatched_;
    return kNoFix;
}

TagFix ResultQueue::on_command_complete() {
    return complete_one();
}

ResultContext ResultQueue::on_parse_complete() {
    skip_copy_ends();
    if (entries_.empty() || entries_.front().kind != Kind::Parse) {
        ++unmatched_;
        return nullptr;
    }
    return take_front_pending();
}

ResultContext ResultQueue::on_close_complete() {
    skip_copy_ends();
    if (entries_.empty() || entries_.front().kind != Kind::Close) {
        ++unmatched_;
        return nullptr;
    }
    return take_front_pending();
}

ResultContext ResultQueue::take_front_pending() {
    ResultContext pending = std::move(entries_.front().pending);
    if (pending) --pending_;
    entries_.pop_front();
    return pending;
}

void ResultQueue::on_empty_query() {
    complete_one();
}

void ResultQueue::on_portal_suspended() {
    complete_one();
}

void ResultQueue::on_copy_in() {
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

void ResultQueue::on_error() {
    skip_copy_ends();
    // An error during copy-in ends the COPY: what the client sends next is read as usual.
    if (copy_in_) copy_failed_ = true;
    if (entries_.empty()) return;  // e.g. FATAL at any time
    Entry& front = entries_.front();
    // Simple query: the server runs no more of the group's statements; its Z ends it.
    if (front.kind == Kind::Query) return;
    if (front.kind == Kind::FunctionCall) return;
    // Extended query: the server discards every message up to the next Sync, a Query or a
    // FunctionCall pipelined in between included.
    while (!entries_.empty() && entries_.front().kind != Kind::Sync)
        pop_front();
}

void ResultQueue::on_ready_for_query(char transaction_status) {
    // Entries before the group or marker that Z ends are stale (a protocol oddity): drop them.
    while (!entries_.empty()) {
        Entry& entry = entries_.front();
        if (entry.kind == Kind::CopyEnd) {
            pop_front();
            continue;
        }
        if (entry.kind == Kind::Execute || entry.kind == Kind::Parse ||
            entry.kind == Kind::Close) {
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
