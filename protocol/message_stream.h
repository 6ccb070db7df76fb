// Framing of the typed messages that follow the startup phase, in either direction.
//
// MessageStream splits bytes into messages without owning a buffer or a socket. Messages whose
// type the handler asks for are handed over whole (the caller buffers until they are complete);
// every other message streams through in whatever pieces arrive, so a 500 MB DataRow or a COPY
// never has to sit in pgrev's memory. What to send on is collected in an Output as spans of the
// input (no copy) and bytes pgrev made itself, in order.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace pgrev::protocol {

constexpr std::size_t kHeaderSize = 5;  // type byte + int32 length (which counts itself)

struct MessageView {
    char type = 0;
    std::span<const char> body;   // after the header
    std::span<const char> bytes;  // the whole message, header included
};

// The bytes to send on, in order. Forwarded spans point into the caller's input buffer, which
// must stay untouched until they are written.
class Output {
  public:
    void forward(std::span<const char> bytes);
    void inject(std::string bytes);

    const std::vector<std::span<const char>>& segments() const { return segments_; }
    bool empty() const { return segments_.empty(); }
    std::size_t size() const;
    void clear();

  private:
    std::vector<std::span<const char>> segments_;
    // deque: pushing keeps earlier strings where they are. Made on the first inject: an empty
    // std::deque already holds a block of its own, and most outputs never inject (every
    // session has two, idle ones too).
    std::unique_ptr<std::deque<std::string>> owned_;
    bool last_is_forwarded_ = false;
};

// A set of message types, such as the ones a handler wants whole: one lookup per message.
class MessageTypeSet {
  public:
    constexpr MessageTypeSet(std::initializer_list<char> types) {
        for (char type : types)
            members_[static_cast<unsigned char>(type)] = true;
    }
    constexpr bool contains(char type) const { return members_[static_cast<unsigned char>(type)]; }

  private:
    std::array<bool, 256> members_{};
};

class MessageHandler {
  public:
    virtual ~MessageHandler() = default;
    // True when messages of this type must be seen whole; the rest stream through.
    virtual bool wants_whole(char type) const = 0;
    // A whole message: the handler forwards it, replaces it or drops it by what it puts in `out`,
    // and returns true. Returning false (with nothing put in `out`) stops the scan before this
    // message: the caller scans it again once the handler can deal with it (the session waits
    // for a catalog, or for the settings that answers in flight may change). May throw
    // ProtocolError.
    virtual bool on_message(const MessageView& message, Output& out) = 0;
    // The header of a streamed message was seen; its bytes are forwarded as they arrive, after
    // whatever the handler puts in `out` (it forwards nothing itself).
    virtual void on_streamed(char /*type*/, std::uint32_t /*length*/, Output& /*out*/) {}
};

class MessageStream {
  public:
    // Messages longer than `max_message_size` (header included) are refused, streamed or not.
    explicit MessageStream(std::size_t max_message_size) : max_message_size_(max_message_size) {}

    enum class Status {
        NeedMoreData,  // consumed what it could; the rest is an incomplete header or whole message
        Done,          // consumed everything
        TooLarge,      // a message declares a length over the limit
        BadLength,     // a message declares a length under 4
        Suspended,     // the handler asked to stop before the message at `consumed`
    };

    struct Result {
        Status status = Status::Done;
        std::size_t consumed = 0;  // bytes of `input` that are dealt with
        // With NeedMoreData: how many bytes, from the first unconsumed one, complete the message.
        std::size_t needed = 0;
        char type = 0;           // with TooLarge/BadLength: the offending message's type
        std::size_t length = 0;  // and its declared length
    };

    Result scan(std::span<const char> input, MessageHandler& handler, Output& out);

    void set_max_message_size(std::size_t bytes) { max_message_size_ = bytes; }

    // True between messages (not in the middle of a streamed one): only then may pgrev insert a
    // message of its own into this direction.
    bool at_message_boundary() const { return streaming_left_ == 0; }

  private:
    std::size_t max_message_size_;
    std::size_t streaming_left_ = 0;  // bytes of the current streamed message still to forward
};

}  // namespace pgrev::protocol
