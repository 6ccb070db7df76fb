#include "protocol/result_queue.h"

namespace pgrev::protocol {

void ResultQueue::push_query(std::vector<TagFix> statement_fixes) {
    entries_.push_back({Kind::Query, std::move(statement_fixes)});
}

void ResultQueue::push_execute(TagFix fix) {
    entries_.push_back({Kind::Execute, {fix}});
}

void ResultQueue::push_sync() {
    entries_.push_back({Kind::Sync, {}});
}

void ResultQueue::push_function_call() {
    entries_.push_back({Kind::FunctionCall, {}});
}

TagFix ResultQueue::complete_one() {
    if (entries_.empty()) {
        ++unmatched_;
        return kNoFix;
    }
    Entry& front = entries_.front();
    switch (front.kind) {
        case Kind::Query: {
            TagFix fix = front.next < front.fixes.size() ? front.fixes[front.next] : kNoFix;
            ++front.next;
            return fix;
        }
        case Kind::Execute: {
            TagFix fix = front.fixes.front();
            entries_.pop_front();
            return fix;
        }
        case Kind::Sync:
        case Kind::FunctionCall:
            break;
    }
    ++unmatched_;
    return kNoFix;
}

TagFix ResultQueue::on_command_complete() {
    return complete_one();
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
    if (front.kind == Kind::FunctionCall) return;
    // Extended query: the server discards everything up to the next Sync.
    while (!entries_.empty() && entries_.front().kind == Kind::Execute)
        entries_.pop_front();
}

void ResultQueue::on_ready_for_query() {
    // Anything before the group or marker that Z ends is stale (a protocol oddity); drop it.
    while (!entries_.empty()) {
        Kind kind = entries_.front().kind;
        entries_.pop_front();
        if (kind != Kind::Execute) return;
        ++unmatched_;
    }
}

}  // namespace pgrev::protocol
