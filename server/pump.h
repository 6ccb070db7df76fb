// One direction of a session: read from one socket, frame with MessageStream, write to the other.
//
// Reading and writing alternate through one buffer: bytes are read, framed, and the forwarded
// ranges are written straight out of that buffer (no copy) before the next read. A pump is the
// only writer to its sink while it runs. The one overlap: while suspended, a read into the
// free end of the buffer may be in flight next to a write of its front; the buffer is then
// neither moved nor resized until both are done.
//
// A pump that has dealt with every byte it read holds no buffer while it waits for more: it
// reads into a small buffer of its own (in clear) or one byte (TLS) and takes a buffer from
// the thread's pool (read_buffer.h) only when bytes arrive.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/message_stream.h"
#include "server/connection.h"
#include "server/read_buffer.h"

namespace pgrev::server {

enum class PumpEnd {
    SourceClosed,       // orderly EOF from the source
    SourceFailed,       // read error (including our own cancellation when the session closes)
    SinkFailed,         // write error
    MessageTooLarge,    // a message over the size limit
    ProtocolViolation,  // a malformed message
    OutOfStep,          // pgrev lost track of which answer belongs to which message
    InternalError       // pgrev failed handling a message
};

// Thrown by a handler that can no longer match answers to what was sent: the whole messages
// it has put out so far still go out, then the pump ends with PumpEnd::OutOfStep.
class OutOfStep : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct PumpResult {
    PumpEnd end = PumpEnd::SourceClosed;
    std::string detail;  // for the log and, where it applies, the client's ErrorResponse
};

class Pump {
  public:
    Pump(Connection& source, Connection& sink, std::size_t max_message_size,
         protocol::MessageHandler& handler);

    // Runs until the source ends or something fails, then calls `done` once. `owner` is kept
    // alive by every pending operation (the session that holds the sockets and this pump).
    // `first_bytes` were read from the source before (by the AuthRelay) and are handled first.
    void start(std::shared_ptr<void> owner, std::function<void(PumpResult)> done,
               std::string_view first_bytes = {});

    // The handler stopped the scan (it waits for something): no messages are handled until
    // resume(). The source is still watched: its end (EOF, reset) ends the pump at once, since
    // nothing held can be answered any more.
    void suspend() { suspended_ = true; }
    // Scans again from the message the handler stopped at.
    void resume();
    // Ends a suspended pump without calling back: it has no operation pending that would,
    // so only this releases the session it keeps alive.
    void abandon_if_suspended();
    // Ends the pump without calling back, whatever it waits for, and releases the session:
    // for pgrev's stop, once no pending operation will ever complete (ProxyServer::run).
    void abandon();

    bool at_message_boundary() const { return stream_.at_message_boundary(); }
    void set_max_message_size(std::size_t bytes) { stream_.set_max_message_size(bytes); }
    bool running() const { return running_; }
    std::uint64_t bytes_read() const { return bytes_read_; }
    // True while the pump holds a read buffer (bytes in it, or a read into it in flight).
    bool holds_buffer() const { return buffer_.held(); }

  private:
    void read_more();
    void start_read();
    void read_into_small();
    void read_first_byte();
    void on_read(const boost::system::error_code& ec, std::size_t n);
    void process();
    void write_output();
    void after_write();
    void compact();
    void hold_more();
    void finish(PumpEnd end, std::string detail);

    Connection& source_;
    Connection& sink_;
    protocol::MessageHandler& handler_;
    protocol::MessageStream stream_;
    protocol::Output out_;
    ReadBuffer buffer_;
    // What a read between messages lands in while no buffer is held: a typical client
    // statement or small result fits.
    std::array<char, 512> small_{};
    char first_byte_ = 0;       // TLS: what read_first_byte reads while no buffer is held
    std::size_t filled_ = 0;    // bytes in buffer_ from the source
    std::size_t consumed_ = 0;  // of those, bytes dealt with by the last scan
    std::size_t needed_ = 0;    // size the buffer must reach to hold the next whole message
    std::uint64_t bytes_read_ = 0;
    bool running_ = false;
    bool writing_ = false;
    bool reading_ = false;
    bool suspended_ = false;
    bool rescan_ = false;  // resumed while writing: scan the buffer before reading more
    std::optional<PumpResult> ending_;  // write what is collected, then end with this
    std::shared_ptr<void> owner_;
    std::shared_ptr<void> read_keep_;   // the owner, while a read is in flight
    std::shared_ptr<void> write_keep_;  // the owner, while a write is in flight
    std::function<void(PumpResult)> done_;
};

}  // namespace pgrev::server
