#include "server/pump.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <cstring>

#include "protocol/byte_reader.h"

namespace pgrev::server {

namespace asio = boost::asio;

namespace {
// Large whole messages grow the buffer up to the size limit and it shrinks back afterwards.
constexpr std::size_t kDefaultBufferSize = ReadBuffer::kStandardSize;
// While suspended, bytes that arrive are kept (to see the source's end behind them) up to
// this much; beyond it the client waits, as it would for a busy server.
constexpr std::size_t kMaxHeldBuffer = 1024 * 1024;
// Drops the first `bytes` of `buffers`.
void consume(std::vector<asio::const_buffer>& buffers, std::size_t bytes) {
    std::size_t whole = 0;
    while (whole < buffers.size() && bytes >= buffers[whole].size()) {
        bytes -= buffers[whole].size();
        ++whole;
    }
    buffers.erase(buffers.begin(), buffers.begin() + static_cast<std::ptrdiff_t>(whole));
    if (!buffers.empty()) buffers.front() += bytes;
}

}  // namespace

Pump::Pump(Connection& source, Connection& sink, std::size_t max_message_size,
           protocol::MessageHandler& handler)
    : source_(source), sink_(sink), handler_(handler), stream_(max_message_size) {}

void Pump::start(std::shared_ptr<void> owner, std::function<void(PumpResult)> done,
                 std::string_view first_bytes) {
    owner_ = std::move(owner);
    done_ = std::move(done);
    running_ = true;
    if (first_bytes.empty()) return read_more();
    buffer_.resize(std::max(kDefaultBufferSize, first_bytes.size()), 0);
    std::memcpy(buffer_.data(), first_bytes.data(), first_bytes.size());
    filled_ = first_bytes.size();
    bytes_read_ += filled_;
    process();
}

void Pump::read_more() {
    if (buffer_.held() && needed_ > buffer_.size() && filled_ == buffer_.size()) {
        // Grow with what arrives, not with what a header declares: a client must send the
        // bytes of a big message before pgrev holds memory for them.
        buffer_.resize(
            std::min(needed_, std::max(buffer_.size() * 2, filled_ + kDefaultBufferSize)), filled_);
    } else if (buffer_.size() > kDefaultBufferSize && filled_ <= kDefaultBufferSize &&
               needed_ <= kDefaultBufferSize) {
        buffer_.resize(kDefaultBufferSize, filled_);
    }
    reading_ = true;
    start_read();
}

void Pump::start_read() {
    // Nothing kept from earlier reads, between messages: wait for the next bytes without
    // holding a buffer. (In the middle of a streamed message bytes are flowing: the whole
    // buffer is read into, in one system call.)
    if (filled_ == 0 && !writing_ && stream_.at_message_boundary()) {
        return source_.can_read_now() ? read_into_small() : read_first_byte();
    }
    if (!buffer_.held()) buffer_.resize(kDefaultBufferSize, 0);
    // The owner is kept alive by the pump while the read is in flight, not by the handler:
    // a handler of one pointer fits std::function without an allocation per read.
    read_keep_ = owner_;
    source_.async_read_some(asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_),
                            [this](const boost::system::error_code& ec, std::size_t n) {
                                auto keep = std::move(read_keep_);
                                on_read(ec, n);
                            });
}

void Pump::read_into_small() {
    // In clear. A read, not a wait for readiness: Asio re-arms the socket with an epoll_ctl for
    // every wait, while a read costs one recv tried at once (EAGAIN when the socket is empty) and
    // nothing more until bytes come. What arrives lands in the pump's own small buffer; the
    // pooled buffer is taken only then, and what else the socket holds (a bigger batch) is
    // read into it at once.
    // The try-first recv cannot be skipped after a read shorter than its buffer (tried: a
    // reactor op reporting such reads "exhausted"): the peer's end of stream may have come
    // with the bytes, in the same edge-triggered event, and then no event follows; a session
    // would hang on a server that sent its FATAL error and closed, or on a client gone.
    buffer_.release();
    read_keep_ = owner_;
    source_.async_read_some(
        asio::buffer(small_), [this](const boost::system::error_code& ec, std::size_t n) {
            auto keep = std::move(read_keep_);
            if (n > 0 && running_) {
                buffer_.resize(kDefaultBufferSize, 0);
                std::memcpy(buffer_.data(), small_.data(), n);
                if (n == small_.size()) {
                    // An error or the end here shows again on the next read, after these bytes.
                    boost::system::error_code more_ec;
                    n += source_.read_some_now(asio::buffer(buffer_.data() + n, buffer_.size() - n),
                                               more_ec);
                }
            }
            on_read(ec, n);
        });
}

void Pump::read_first_byte() {
    // TLS: the stream may hold decrypted bytes beyond what a small read takes, and pgrev cannot
    // read them without waiting; what a small buffer took would go out alone. So the wait is a
    // read of one byte; the buffer is taken when it arrives, and the rest of what the stream
    // holds is read into it next (process() asks for more: one byte is no message).
    buffer_.release();
    read_keep_ = owner_;
    source_.async_read_some(asio::buffer(&first_byte_, 1),
                            [this](const boost::system::error_code& ec, std::size_t n) {
                                auto keep = std::move(read_keep_);
                                if (n == 1 && running_) {
                                    buffer_.resize(kDefaultBufferSize, 0);
                                    buffer_.data()[0] = first_byte_;
                                }
                                on_read(ec, n);
                            });
}

void Pump::on_read(const boost::system::error_code& ec, std::size_t n) {
    reading_ = false;
    if (!running_) return;  // abandoned while this read was in flight
    if (ec) {
        if (is_end_of_stream(ec)) {
            return finish(PumpEnd::SourceClosed,
                          suspended_ ? "end of stream while a message was held" : "end of stream");
        }
        return finish(PumpEnd::SourceFailed, ec.message());
    }
    filled_ += n;
    bytes_read_ += n;
    if (writing_) {
        // Resumed and writing, or suspended: after_write goes on from here.
        if (!suspended_) rescan_ = true;
        return;
    }
    if (suspended_) return hold_more();
    process();
}

void Pump::resume() {
    if (!running_ || !suspended_) return;
    suspended_ = false;
    if (writing_) {
        rescan_ = true;
    } else {
        process();
    }
}

void Pump::abandon_if_suspended() {
    // A read in flight ends when the session closes the source; on_read then does nothing.
    if (!running_ || !suspended_ || writing_) return;
    running_ = false;
    done_ = nullptr;
    owner_.reset();
}

void Pump::abandon() {
    running_ = false;
    done_ = nullptr;
    owner_.reset();
    read_keep_.reset();
    write_keep_.reset();
}

void Pump::process() {
    protocol::MessageStream::Result result;
    try {
        // Bytes before consumed_ were dealt with by a scan whose buffer could not be compacted
        // yet (a read was in flight).
        result = stream_.scan({buffer_.data() + consumed_, filled_ - consumed_}, handler_, out_);
    } catch (const protocol::ProtocolError& e) {
        return finish(PumpEnd::ProtocolViolation, e.what());
    } catch (const OutOfStep& e) {
        // What came before the message that showed it still goes out, whole messages only.
        ending_ = PumpResult{PumpEnd::OutOfStep, e.what()};
        if (out_.empty()) return after_write();
        return write_output();
    } catch (const std::exception& e) {
        // A bug of pgrev's own ends this session, never the process.
        return finish(PumpEnd::InternalError, e.what());
    }
    consumed_ += result.consumed;
    needed_ = 0;
    switch (result.status) {
        case protocol::MessageStream::Status::Done:
            break;
        case protocol::MessageStream::Status::NeedMoreData:
            needed_ = result.needed;
            break;
        case protocol::MessageStream::Status::Suspended:
            suspended_ = true;
            break;
        case protocol::MessageStream::Status::TooLarge:
            return finish(PumpEnd::MessageTooLarge, "message of type '" +
                                                        std::string(1, result.type) + "' is " +
                                                        std::to_string(result.length) + " bytes");
        case protocol::MessageStream::Status::BadLength:
            return finish(PumpEnd::ProtocolViolation,
                          "invalid message length " + std::to_string(result.length));
    }
    if (out_.empty()) return after_write();
    write_output();
}

void Pump::write_output() {
    std::size_t written = 0;
    if (sink_.can_write_now() && !ending_) {
        // Most writes are taken by the socket at once: no composed operation, no handler, no
        // buffer list. What it does not take (or an error, which the asynchronous write then
        // reports) goes the asynchronous way.
        boost::system::error_code ec;
        written = sink_.write_some_now(out_.segments(), ec);
        if (written == out_.size()) return after_write();
    }
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(out_.segments().size());
    for (const auto& s : out_.segments())
        buffers.emplace_back(s.data(), s.size());
    consume(buffers, written);
    writing_ = true;
    write_keep_ = owner_;
    sink_.async_write(std::move(buffers), [this](const boost::system::error_code& ec, std::size_t) {
        auto keep = std::move(write_keep_);
        writing_ = false;
        if (!running_) return;
        if (ec) return finish(PumpEnd::SinkFailed, ec.message());
        after_write();
    });
}

void Pump::after_write() {
    out_.clear();
    if (ending_) {
        PumpResult end = std::move(*ending_);
        ending_.reset();
        return finish(end.end, std::move(end.detail));
    }
    if (!reading_) compact();
    if (!running_) return;
    if (suspended_) return hold_more();
    if (rescan_) {
        rescan_ = false;
        return process();
    }
    if (!reading_) read_more();  // else the read in flight goes on when it completes
}

void Pump::hold_more() {
    // Suspended: bytes that arrive are kept, so that the source's end (EOF, reset) behind them
    // is seen at once, but none is handled until resume().
    if (!running_ || reading_ || writing_) return;
    compact();
    if (buffer_.held() && filled_ == buffer_.size()) {
        if (buffer_.size() >= kMaxHeldBuffer) return;
        buffer_.resize(std::min(kMaxHeldBuffer, buffer_.size() * 2), filled_);
    }
    reading_ = true;
    start_read();
}

void Pump::compact() {
    std::size_t rest = filled_ - consumed_;
    if (rest > 0 && consumed_ > 0) std::memmove(buffer_.data(), buffer_.data() + consumed_, rest);
    filled_ = rest;
    consumed_ = 0;
}

void Pump::finish(PumpEnd end, std::string detail) {
    if (!running_) return;
    running_ = false;
    out_.clear();
    auto done = std::move(done_);
    auto keep = std::move(owner_);  // released when this call returns
    done(PumpResult{end, std::move(detail)});
}

}  // namespace pgrev::server
