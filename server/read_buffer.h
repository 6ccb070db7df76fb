// The read buffer of one direction of a session, held only while bytes are in it.
//
// An idle session is most of what a proxy holds: a pump that waits for its source gives its
// buffer back (Pump::start_read), so memory follows the sessions that move data, not the ones
// that are open. Buffers of the standard size come from a pool of the thread (every session
// runs on one thread): reused across sessions, they are not handed to malloc and back for every
// round trip, and the pool bounds what stays resident by the most buffers in use at once.
// Larger buffers (a whole message over the standard size) are plain allocations, freed when
// the buffer shrinks back.
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace pgrev::server {

// Free buffers of ReadBuffer::kStandardSize, one pool per thread.
class BufferPool {
  public:
    // Free buffers kept beyond this many go back to the allocator.
    static constexpr std::size_t kMaxFree = 64;

    static BufferPool& of_this_thread();

    std::unique_ptr<char[]> take();
    void give_back(std::unique_ptr<char[]> buffer);
    std::size_t free_count() const { return free_.size(); }

  private:
    std::vector<std::unique_ptr<char[]>> free_;
};

class ReadBuffer {
  public:
    // Big enough for a typical batch of small messages in one read.
    static constexpr std::size_t kStandardSize = 32 * 1024;

    ReadBuffer() = default;
    ~ReadBuffer() { release(); }
    ReadBuffer(const ReadBuffer&) = delete;
    ReadBuffer& operator=(const ReadBuffer&) = delete;

    bool held() const { return data_ != nullptr; }
    char* data() { return data_.get(); }
    const char* data() const { return data_.get(); }
    std::size_t size() const { return size_; }

    // Makes the buffer `size` bytes (0 releases it), keeping its first `keep` bytes
    // (keep <= both sizes).
    void resize(std::size_t size, std::size_t keep);
    // Gives the memory back: to the thread's pool when it is of the standard size.
    void release();

  private:
    std::unique_ptr<char[]> data_;
    std::size_t size_ = 0;
};

}  // namespace pgrev::server
