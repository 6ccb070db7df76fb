#include "protocol/byte_reader.h"

#include <cstring>

namespace pgrev::protocol {

std::uint32_t read_u32_be(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return (std::uint32_t{u[0]} << 24) | (std::uint32_t{u[1]} << 16) | (std::uint32_t{u[2]} << 8) |
           std::uint32_t{u[3]};
}

void write_u32_be(char* p, std::uint32_t value) {
    p[0] = static_cast<char>(value >> 24);
    p[1] = static_cast<char>(value >> 16);
    p[2] = static_cast<char>(value >> 8);
    p[3] = static_cast<char>(value);
}

void ByteReader::need(std::size_t count) const {
    if (count > remaining()) throw ProtocolError("message ends early");
}

std::uint8_t ByteReader::u8() {
    need(1);
    return static_cast<std::uint8_t>(bytes_[pos_++]);
}

std::int16_t ByteReader::i16() {
    need(2);
    const auto* u = reinterpret_cast<const unsigned char*>(bytes_.data() + pos_);
    pos_ += 2;
    return static_cast<std::int16_t>((u[0] << 8) | u[1]);
}

std::uint32_t ByteReader::u32() {
    need(4);
    std::uint32_t v = read_u32_be(bytes_.data() + pos_);
    pos_ += 4;
    return v;
}

std::int32_t ByteReader::i32() {
    return static_cast<std::int32_t>(u32());
}

std::string_view ByteReader::cstring() {
    const char* start = bytes_.data() + pos_;
    const void* nul = std::memchr(start, '\0', remaining());
    if (nul == nullptr) throw ProtocolError("string is not NUL-terminated");
    std::size_t length = static_cast<const char*>(nul) - start;
    pos_ += length + 1;
    return {start, length};
}

std::span<const char> ByteReader::bytes(std::size_t count) {
    need(count);
    auto out = bytes_.subspan(pos_, count);
    pos_ += count;
    return out;
}

void ByteReader::expect_end(const char* what) const {
    if (!at_end()) throw ProtocolError(std::string(what) + " has trailing bytes");
}

MessageBuilder::MessageBuilder(char type) {
    out_.reserve(64);
    out_.push_back(type);
    out_.append(4, '\0');
}

MessageBuilder& MessageBuilder::u8(std::uint8_t value) {
    out_.push_back(static_cast<char>(value));
    return *this;
}

MessageBuilder& MessageBuilder::i16(std::int16_t value) {
    out_.push_back(static_cast<char>(static_cast<std::uint16_t>(value) >> 8));
    out_.push_back(static_cast<char>(value));
    return *this;
}

MessageBuilder& MessageBuilder::i32(std::int32_t value) {
    char b[4];
    write_u32_be(b, static_cast<std::uint32_t>(value));
    out_.append(b, 4);
    return *this;
}

MessageBuilder& MessageBuilder::cstring(std::string_view value) {
    out_.append(value);
    out_.push_back('\0');
    return *this;
}

MessageBuilder& MessageBuilder::bytes(std::span<const char> value) {
    out_.append(value.data(), value.size());
    return *this;
}

std::string MessageBuilder::finish() {
    write_u32_be(out_.data() + 1, static_cast<std::uint32_t>(out_.size() - 1));
    return std::move(out_);
}

}  // namespace pgrev::protocol
