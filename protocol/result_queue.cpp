#include "protocol/result_queue.h"

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
    entries_.push_back({Kind::Sync, {}, nullptr});
}

void ResultQueue::push_function_call() {
    entries_.push_back({Kind::FunctionCall, {}, nullptr});
}

const ResultContext& ResultQueue::current_context() const {
    static const ResultContext none;
    return entries_.empty() ? none : entries_.front().context;
}

TagFix ResultQueue::current_fix() const {
    if (entries_.empty()) return kNoFix;
    const Entry& front = entries_.front();
    if (front.kind == Kind::Query) {
        return front.next < front.fixes.size() ? front.fixes[front.next] : kNoFix;
    }
    return front.kind == Kind::Execute ? front.fixes.front() : kNoFix;
}

TagFix ResultQueue::complete_one() {
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

void ResultQueue::on_error() {
    if (entries_.empty()) return;  // e.g. FATAL at any time
    Entry& front = entries_.front();
    if (front.kind == Kind::Query) {
        front.failed = true;
        return;
    }
    // Extended query: the server discards everything up to the next Sync.
    while (!entries_.empty() &&
           (entries_.front().kind == Kind::Execute || entries_.front().kind == Kind::Parse)) {
        entries_.pop_front();
    }
}

void ResultQueue::on_ready_for_query() {
    // Entries before the group or marker that Z ends are stale (a protocol oddity): drop them.
    while (!entries_.empty()) {
        Kind kind = entries_.front().kind;
        entries_.pop_front();
        if (kind != Kind::Execute && kind != Kind::Parse) return;
        ++unmatched_;
    }
}

}  // namespace pgrev::protocol
