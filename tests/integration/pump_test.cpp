// server::Pump over real loopback sockets, with handlers that do what the session's handlers
// do at the edges: lose track of the protocol (issue 7, item 11: the messages before go out,
// then the pump ends with OutOfStep, which the session turns into a FATAL 08P01), and hold a
// message while the client goes away (item 13: a suspended pump still sees the EOF).
#include <doctest/doctest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "protocol/message_stream.h"
#include "server/pump.h"

namespace asio = boost::asio;
using asio::ip::tcp;
using pgrev::server::Connection;
using pgrev::server::Pump;
using pgrev::server::PumpEnd;
using pgrev::server::PumpResult;

namespace {

std::string message(char type, const std::string& body = "") {
    std::string m(1, type);
    std::uint32_t length = static_cast<std::uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8)
        m.push_back(static_cast<char>((length >> shift) & 0xff));
    return m + body;
}

// 'L' loses track (throws OutOfStep), 'H' is held (the handler waits), the rest pass.
class EdgeHandler : public pgrev::protocol::MessageHandler {
  public:
    bool wants_whole(char) const override { return true; }
    bool on_message(const pgrev::protocol::MessageView& m, pgrev::protocol::Output& out) override {
        if (m.type == 'L') throw pgrev::server::OutOfStep("a 'L' answers nothing");
        if (m.type == 'H') {
            pump->suspend();
            return false;
        }
        out.forward(m.bytes);
        return true;
    }
    Pump* pump = nullptr;
};

struct Pair {
    tcp::socket writer;
    tcp::socket reader;
};

Pair connected(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket writer(io), reader(io);
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    return {std::move(writer), std::move(reader)};
}

struct Rig {
    asio::io_context io;
    Pair in = connected(io);   // in.writer: the peer; in.reader: the pump's source
    Pair out = connected(io);  // out.writer: the pump's sink; out.reader: what went on
    Connection source{std::move(in.reader)};
    Connection sink{std::move(out.writer)};
    EdgeHandler handler;
    Pump pump{source, sink, 1 << 20, handler};
    std::optional<PumpResult> result;

    Rig() {
        handler.pump = &pump;
        pump.start(std::make_shared<int>(0), [this](PumpResult r) { result = std::move(r); });
    }
    void run_until_done() {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (!result && std::chrono::steady_clock::now() < deadline)
            io.run_for(std::chrono::milliseconds(20));
    }
    std::string forwarded() {
        sink.close();
        std::string bytes;
        boost::system::error_code ec;
        asio::read(out.reader, asio::dynamic_buffer(bytes), ec);
        return bytes;
    }
};

}  // namespace

TEST_CASE("a pump whose handler loses track sends what came before, then ends OutOfStep") {
    Rig rig;
    asio::write(rig.in.writer, asio::buffer(message('A', "one") + message('B') + message('L') +
                                            message('C', "never")));
    rig.run_until_done();
    REQUIRE(rig.result);
    CHECK(rig.result->end == PumpEnd::OutOfStep);
    CHECK(rig.result->detail == "a 'L' answers nothing");
    CHECK(rig.forwarded() == message('A', "one") + message('B'));
}

TEST_CASE("a suspended pump sees its source end") {
    Rig rig;
    asio::write(rig.in.writer, asio::buffer(message('A') + message('H') + message('C')));
    rig.io.run_for(std::chrono::milliseconds(200));
    CHECK_FALSE(rig.result);  // held: nothing to end it yet
    rig.in.writer.close();    // the client goes away
    rig.run_until_done();
    REQUIRE(rig.result);
    CHECK(rig.result->end == PumpEnd::SourceClosed);
    CHECK(rig.forwarded() == message('A'));
}
