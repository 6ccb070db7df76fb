#include "server/read_buffer.h"

#include <cstring>
#include <utility>

namespace pgrev::server {

BufferPool& BufferPool::of_this_thread() {
    // A buffer is given back on the thread that releases it, which may not be the one that
    // took it (sessions destroyed at pgrev's stop): the pools only ever hold free buffers.
    thread_local BufferPool pool;
    return pool;
}

std::unique_ptr<char[]> BufferPool::take() {
    if (free_.empty()) {
        // for_overwrite: no zeroing, the bytes are read into before they are looked at.
        return std::make_unique_for_overwrite<char[]>(ReadBuffer::kStandardSize);
    }
    auto buffer = std::move(free_.back());
    free_.pop_back();
    return buffer;
}

void BufferPool::give_back(std::unique_ptr<char[]> buffer) {
    if (free_.size() < kMaxFree) free_.push_back(std::move(buffer));
}

void ReadBuffer::resize(std::size_t size, std::size_t keep) {
    if (size == size_) return;
    if (size == 0) return release();
    std::unique_ptr<char[]> next = size == kStandardSize
                                       ? BufferPool::of_this_thread().take()
                                       : std::make_unique_for_overwrite<char[]>(size);
    if (keep > 0) std::memcpy(next.get(), data_.get(), keep);
    release();
    data_ = std::move(next);
    size_ = size;
}

void ReadBuffer::release() {
    if (!data_) return;
    if (size_ == kStandardSize) {
        BufferPool::of_this_thread().give_back(std::move(data_));
    } else {
        data_.reset();
    }
    data_ = nullptr;
    size_ = 0;
}

}  // namespace pgrev::server
