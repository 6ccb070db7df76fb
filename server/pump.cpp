#include "server/pump.h"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <sys/socket.h>

#include "protocol/byte_reader.h"

namespace pgrev::server {

namespace asio = boost::asio;

namespace {
// Big enough for a typical batch of small messages in one read; large whole messages grow
// the buffer up to the size limit and it shrinks back afterwards.
constexpr std::size_t kDefaultBufferSize = 32 * 1024;
// While suspended, bytes that arrive are kept (to see the source's end behind them) up to
// this much; beyond it the client waits, as it would for a busy server.
constexpr std::size_t kMaxHeldBuffer = 1024 * 1024;
}  // namespace

Pump::Pump(Socket& source, Socket& sink, std::size_t max_message_size,
           protocol::MessageHandler& handler)
    : source_(source), sink_(sink), handler_(handler), stream_(max_message_size) {}

void Pump::start(std::shared_ptr<void> owner, std::function<void(PumpResult)> done) {
    owner_ = std::move(owner);
    done_ = std::move(done);
    running_ = true;
    buffer_.resize(kDefaultBufferSize);
    read_more();
}

void Pump::read_more() {
    if (needed_ > buffer_.size() && filled_ == buffer_.size()) {
        // Grow with what arrives, not with what a header declares: a client must send the
        // bytes of a big message before pgrev holds memory for them.
        buffer_.resize(
            std::min(needed_, std::max(buffer_.size() * 2, filled_ + kDefaultBufferSize)));
    } else if (buffer_.size() > kDefaultBufferSize && filled_ <= kDefaultBufferSize &&
               needed_ <= kDefaultBufferSize) {
        buffer_.resize(kDefaultBufferSize);
        buffer_.shrink_to_fit();
    }
    source_.async_read_some(asio::buffer(buffer_.data() + filled_, buffer_.size() - filled_),
                            [this, keep = owner_](const boost::system::error_code& ec,
                                                  std::size_t n) { on_read(ec, n); });
}

void Pump::on_read(const boost::system::error_code& ec, std::size_t n) {
    if (ec) {
        if (ec == asio::error::eof) return finish(PumpEnd::SourceClosed, "end of stream");
        return finish(PumpEnd::SourceFailed, ec.message());
    }
    filled_ += n;
    bytes_read_ += n;
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
    if (!running_ || !suspended_ || writing_) return;
    running_ = false;
    done_ = nullptr;
    owner_.reset();
}

void Pump::process() {
    protocol::MessageStream::Result result;
    try {
        result = stream_.scan({buffer_.data(), filled_}, handler_, out_);
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
    consumed_ = result.consumed;
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
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(out_.segments().size());
    for (const auto& s : out_.segments())
        buffers.emplace_back(s.data(), s.size());
    writing_ = true;
    asio::async_write(sink_, buffers,
                      [this, keep = owner_](const boost::system::error_code& ec, std::size_t) {
                          writing_ = false;
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
    compact();
    if (!running_) return;
    if (suspended_) return watch_source();
    if (rescan_) {
        rescan_ = false;
        return process();
    }
    read_more();
}

void Pump::watch_source() {
    if (watching_) return;
    watching_ = true;
    source_.async_wait(Socket::wait_read,
                       [this, keep = owner_](const boost::system::error_code& ec) {
                           watching_ = false;
                           on_source_ready(ec);
                       });
}

void Pump::on_source_ready(const boost::system::error_code& ec) {
    // Resumed meanwhile: the ordinary read sees what comes. Writing: after_write watches again.
    if (!running_ || !suspended_ || writing_) return;
    if (ec) return finish(PumpEnd::SourceFailed, ec.message());
    if (filled_ == buffer_.size()) {
        if (buffer_.size() >= kMaxHeldBuffer) return;
        buffer_.resize(std::min(kMaxHeldBuffer, buffer_.size() * 2));
    }
    ssize_t n = ::recv(source_.native_handle(), buffer_.data() + filled_,
                       buffer_.size() - filled_, MSG_DONTWAIT);
    if (n == 0) return finish(PumpEnd::SourceClosed, "end of stream while a message was held");
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return watch_source();
        return finish(PumpEnd::SourceFailed, std::strerror(errno));
    }
    filled_ += static_cast<std::size_t>(n);
    bytes_read_ += static_cast<std::uint64_t>(n);
    watch_source();
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
