#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "protocol/backend_messages.h"
#include "protocol/byte_reader.h"
#include "protocol/frontend_messages.h"
#include "protocol/message_stream.h"

using namespace pgrev::protocol;

namespace {

// Sees Query and Terminate whole, streams the rest; drops Terminate, replaces Query 'drop me'.
struct RecordingHandler : MessageHandler {
    std::vector<std::string> whole;
    std::vector<char> streamed;
    bool wants_whole(char type) const override { return type == 'Q' || type == 'X'; }
    bool on_message(const MessageView& m, Output& out) override {
        if (m.type == 'Q' && decode_query(m.body).sql == "wait" && !released) return false;
        whole.emplace_back(m.type + std::string(":") + std::string(m.body.data(), m.body.size()));
        if (m.type == 'X') return true;
        if (decode_query(m.body).sql == "drop me") {
            out.inject(encode_query("replaced"));
            return true;
        }
        out.forward(m.bytes);
        return true;
    }
    bool released = false;
    void on_streamed(char type, std::uint32_t, Output&) override { streamed.push_back(type); }
};

std::string join(const Output& out) {
    std::string s;
    for (auto seg : out.segments())
        s.append(seg.data(), seg.size());
    return s;
}

// Feeds `input` in chunks of `chunk` bytes the way a pump does: scan, keep the unconsumed
// tail, append the next read. Returns everything that would have been sent.
std::string pump(const std::string& input, std::size_t chunk, RecordingHandler& handler,
                 std::size_t limit = 1 << 20) {
    MessageStream stream(limit);
    std::string buffer, sent;
    for (std::size_t pos = 0; pos < input.size(); pos += chunk) {
        buffer += input.substr(pos, chunk);
        Output out;
        auto r = stream.scan(buffer, handler, out);
        REQUIRE((r.status == MessageStream::Status::Done ||
                 r.status == MessageStream::Status::NeedMoreData));
        sent += join(out);
        buffer.erase(0, r.consumed);
    }
    CHECK(buffer.empty());
    CHECK(stream.at_message_boundary());
    return sent;
}

std::string copy_data(const std::string& payload) {
    std::string m = "d";
    std::uint32_t len = static_cast<std::uint32_t>(payload.size() + 4);
    m += static_cast<char>(len >> 24);
    m += static_cast<char>(len >> 16);
    m += static_cast<char>(len >> 8);
    m += static_cast<char>(len);
    return m + payload;
}

}  // namespace

TEST_SUITE("protocol") {
    TEST_CASE("many messages in one read are forwarded byte for byte") {
        std::string input = encode_query("select 1") + encode_parse({"s1", "select $1", {23}}) +
                            encode_bind("", "s1") + encode_execute({"", 0}) + encode_sync();
        RecordingHandler h;
        CHECK(pump(input, input.size(), h) == input);
        REQUIRE(h.whole.size() == 1);
        CHECK(h.whole[0] == std::string("Q:select 1") + '\0');
        CHECK(h.streamed == std::vector<char>{'P', 'B', 'E', 'S'});
    }

    TEST_CASE("framing survives every split of the input") {
        std::string input = encode_query("select 42") + copy_data(std::string(300, 'x')) +
                            encode_sync() + encode_query("drop me") +
                            pgrev::protocol::MessageBuilder('X').finish();
        std::string expected = encode_query("select 42") + copy_data(std::string(300, 'x')) +
                               encode_sync() + encode_query("replaced");
        for (std::size_t chunk = 1; chunk <= input.size(); ++chunk) {
            CAPTURE(chunk);
            RecordingHandler h;
            CHECK(pump(input, chunk, h) == expected);
            CHECK(h.whole.size() == 3);
        }
    }

    TEST_CASE("a whole message waits for all its bytes and reports how many it needs") {
        std::string q = encode_query("select 1");
        RecordingHandler h;
        MessageStream stream(1024);
        Output out;
        auto r = stream.scan(std::string_view(q).substr(0, 3), h, out);
        CHECK(r.status == MessageStream::Status::NeedMoreData);
        CHECK(r.consumed == 0);
        CHECK(r.needed == kHeaderSize);
        r = stream.scan(std::string_view(q).substr(0, 7), h, out);
        CHECK(r.status == MessageStream::Status::NeedMoreData);
        CHECK(r.needed == q.size());
        CHECK(out.empty());
        CHECK(h.whole.empty());
    }

    TEST_CASE("a streamed message is forwarded in pieces and the boundary is tracked") {
        std::string big = copy_data(std::string(10000, 'y'));
        RecordingHandler h;
        MessageStream stream(1 << 20);
        Output out;
        auto r = stream.scan(std::string_view(big).substr(0, 100), h, out);
        CHECK(r.status == MessageStream::Status::Done);
        CHECK(r.consumed == 100);
        CHECK(out.size() == 100);
        CHECK_FALSE(stream.at_message_boundary());
        out.clear();
        r = stream.scan(std::string_view(big).substr(100), h, out);
        CHECK(r.consumed == big.size() - 100);
        CHECK(stream.at_message_boundary());
    }

    TEST_CASE("lengths over the limit or under 4 are refused before anything is buffered") {
        RecordingHandler h;
        Output out;
        std::string huge = "Q";
        huge += std::string("\x7f\xff\xff\xff", 4);
        auto r = MessageStream(1024).scan(huge, h, out);
        CHECK(r.status == MessageStream::Status::TooLarge);
        CHECK(r.type == 'Q');
        CHECK(r.length == 0x7fffffffu + 1);

        // Streamed types are bounded too.
        std::string big_copy = copy_data(std::string(2000, 'z'));
        r = MessageStream(1024).scan(big_copy, h, out);
        CHECK(r.status == MessageStream::Status::TooLarge);

        std::string short_len = std::string("Q") + std::string("\0\0\0\x03", 4);
        r = MessageStream(1024).scan(short_len, h, out);
        CHECK(r.status == MessageStream::Status::BadLength);
        CHECK(out.empty());
    }

    TEST_CASE("messages before a refused one are still reported for sending") {
        RecordingHandler h;
        Output out;
        std::string input = encode_query("select 1") + "Q" + std::string("\x10\0\0\0", 4);
        auto r = MessageStream(1024).scan(input, h, out);
        CHECK(r.status == MessageStream::Status::TooLarge);
        CHECK(r.consumed == encode_query("select 1").size());
        CHECK(join(out) == encode_query("select 1"));
    }

    TEST_CASE("a handler can stop the scan before a message and see it again later") {
        std::string input = encode_sync() + encode_query("wait") + encode_sync();
        RecordingHandler h;
        MessageStream stream(1024);
        Output out;
        auto r = stream.scan(input, h, out);
        CHECK(r.status == MessageStream::Status::Suspended);
        CHECK(r.consumed == encode_sync().size());
        CHECK(join(out) == encode_sync());
        CHECK(stream.at_message_boundary());
        h.released = true;
        out.clear();
        r = stream.scan(std::string_view(input).substr(r.consumed), h, out);
        CHECK(r.status == MessageStream::Status::Done);
        CHECK(join(out) == encode_query("wait") + encode_sync());
    }

    TEST_CASE("adjacent forwarded bytes become one segment, injected bytes stay separate") {
        std::string input = encode_sync() + encode_sync() + encode_query("drop me") + encode_sync();
        RecordingHandler h;
        MessageStream stream(1024);
        Output out;
        stream.scan(input, h, out);
        CHECK(out.segments().size() == 3);
        CHECK(join(out) ==
              encode_sync() + encode_sync() + encode_query("replaced") + encode_sync());
    }
}
