#include "protocol/message_stream.h"

#include <algorithm>

#include "protocol/byte_reader.h"

namespace pgrev::protocol {

void Output::forward(std::span<const char> bytes) {
    if (bytes.empty()) return;
    // Adjacent pieces of the input become one segment: one iovec per run of forwarded bytes.
    if (last_is_forwarded_) {
        auto& last = segments_.back();
        if (last.data() + last.size() == bytes.data()) {
            last = std::span<const char>(last.data(), last.size() + bytes.size());
            return;
        }
    }
    segments_.push_back(bytes);
    last_is_forwarded_ = true;
}

void Output::inject(std::string bytes) {
    if (bytes.empty()) return;
    if (!owned_) owned_ = std::make_unique<std::deque<std::string>>();
    owned_->push_back(std::move(bytes));
    segments_.emplace_back(owned_->back().data(), owned_->back().size());
    last_is_forwarded_ = false;
}

std::size_t Output::size() const {
    std::size_t total = 0;
    for (const auto& s : segments_)
        total += s.size();
    return total;
}

void Output::clear() {
    segments_.clear();
    if (owned_) owned_->clear();
    last_is_forwarded_ = false;
}

MessageStream::Result MessageStream::scan(std::span<const char> input, MessageHandler& handler,
                                          Output& out) {
    std::size_t pos = 0;
    while (pos < input.size()) {
        if (streaming_left_ > 0) {
            std::size_t take = std::min(streaming_left_, input.size() - pos);
            out.forward(input.subspan(pos, take));
            pos += take;
            streaming_left_ -= take;
            continue;
        }
        std::size_t available = input.size() - pos;
        if (available < kHeaderSize) {
            return {Status::NeedMoreData, pos, kHeaderSize};
        }
        char type = input[pos];
        std::uint32_t length = read_u32_be(input.data() + pos + 1);
        if (length < 4) return {Status::BadLength, pos, 0, type, length};
        std::size_t total = std::size_t{length} + 1;
        if (total > max_message_size_) return {Status::TooLarge, pos, 0, type, total};

        if (handler.wants_whole(type)) {
            if (available < total) return {Status::NeedMoreData, pos, total};
            auto bytes = input.subspan(pos, total);
            if (!handler.on_message({type, bytes.subspan(kHeaderSize), bytes}, out)) {
                return {Status::Suspended, pos, 0, type, total};
            }
            pos += total;
        } else {
            handler.on_streamed(type, length, out);
            streaming_left_ = total;
        }
    }
    return {Status::Done, pos, 0};
}

}  // namespace pgrev::protocol
