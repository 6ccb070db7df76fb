// Bounds-checked reading and writing of the protocol's big-endian integers and C strings.
// Every read checks the remaining length first: a message from the network is never trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pgrev::protocol {

// A message that does not follow the protocol. The text says what was wrong, for the log and
// for the ErrorResponse pgrev sends before closing the connection.
class ProtocolError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class ByteReader {
  public:
    explicit ByteReader(std::span<const char> bytes) : bytes_(bytes) {}

    std::uint8_t u8();
    std::int16_t i16();
    std::int32_t i32();
    std::uint32_t u32();
    // A NUL-terminated string; the view points into the message.
    std::string_view cstring();
    std::span<const char> bytes(std::size_t count);

    std::size_t remaining() const { return bytes_.size() - pos_; }
    bool at_end() const { return pos_ == bytes_.size(); }
    // Throws unless every byte was read: trailing garbage is a malformed message too.
    void expect_end(const char* what) const;

  private:
    void need(std::size_t count) const;

    std::span<const char> bytes_;
    std::size_t pos_ = 0;
};

// Builds one typed message: the 4-byte length is filled in by finish().
class MessageBuilder {
  public:
    explicit MessageBuilder(char type);

    MessageBuilder& u8(std::uint8_t value);
    MessageBuilder& i16(std::int16_t value);
    MessageBuilder& i32(std::int32_t value);
    MessageBuilder& cstring(std::string_view value);
    MessageBuilder& bytes(std::span<const char> value);

    std::string finish();  // moves the bytes out: the builder is spent

  private:
    std::string out_;
};

std::uint32_t read_u32_be(const char* p);
void write_u32_be(char* p, std::uint32_t value);

}  // namespace pgrev::protocol
