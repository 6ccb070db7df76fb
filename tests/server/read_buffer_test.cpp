// A pump's read buffer: standard buffers come from and go back to the thread's pool, larger
// ones are plain allocations, and resizing keeps the bytes asked for (server/read_buffer.h).
#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <thread>

#include "server/read_buffer.h"

using pgrev::server::BufferPool;
using pgrev::server::ReadBuffer;

TEST_CASE("read buffer: an unheld buffer has no memory; a released one goes back to the pool") {
    ReadBuffer buffer;
    CHECK_FALSE(buffer.held());
    CHECK(buffer.size() == 0);
    CHECK(buffer.data() == nullptr);

    auto& pool = BufferPool::of_this_thread();
    buffer.resize(ReadBuffer::kStandardSize, 0);
    REQUIRE(buffer.held());
    CHECK(buffer.size() == ReadBuffer::kStandardSize);
    const char* first = buffer.data();
    std::size_t free_before = pool.free_count();
    buffer.release();
    CHECK_FALSE(buffer.held());
    CHECK(buffer.size() == 0);
    CHECK(pool.free_count() == free_before + 1);

    // Taken again: the same memory, not a new allocation.
    buffer.resize(ReadBuffer::kStandardSize, 0);
    CHECK(buffer.data() == first);
    CHECK(pool.free_count() == free_before);
}

TEST_CASE("read buffer: growing and shrinking keep the bytes asked for") {
    auto& pool = BufferPool::of_this_thread();
    ReadBuffer buffer;
    buffer.resize(ReadBuffer::kStandardSize, 0);
    std::memcpy(buffer.data(), "header+body", 11);
    std::size_t free_before = pool.free_count();

    buffer.resize(3 * ReadBuffer::kStandardSize, 11);
    CHECK(buffer.size() == 3 * ReadBuffer::kStandardSize);
    CHECK(std::string(buffer.data(), 11) == "header+body");
    CHECK(pool.free_count() == free_before + 1);  // the standard buffer went back

    buffer.resize(ReadBuffer::kStandardSize, 6);
    CHECK(std::string(buffer.data(), 6) == "header");
    CHECK(pool.free_count() == free_before);  // ... and was taken again

    buffer.resize(0, 0);  // 0 releases
    CHECK_FALSE(buffer.held());
    CHECK(pool.free_count() == free_before + 1);
}

TEST_CASE("read buffer: a larger buffer is not kept in the pool") {
    auto& pool = BufferPool::of_this_thread();
    std::size_t free_before = pool.free_count();
    {
        ReadBuffer buffer;
        buffer.resize(2 * ReadBuffer::kStandardSize, 0);
    }  // destroyed: released
    CHECK(pool.free_count() == free_before);
}

TEST_CASE("read buffer: the pool keeps at most kMaxFree buffers, per thread") {
    std::size_t other_thread_count = 0;
    std::size_t this_thread_before = BufferPool::of_this_thread().free_count();
    std::thread([&] {
        std::vector<ReadBuffer> buffers(BufferPool::kMaxFree + 5);
        for (auto& b : buffers)
            b.resize(ReadBuffer::kStandardSize, 0);
        for (auto& b : buffers)
            b.release();
        other_thread_count = BufferPool::of_this_thread().free_count();
    }).join();
    CHECK(other_thread_count == BufferPool::kMaxFree);
    CHECK(BufferPool::of_this_thread().free_count() == this_thread_before);
}
