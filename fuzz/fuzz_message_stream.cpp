// MessageStream, every message decoder and ResultQueue, fed with arbitrary bytes.
//
// Input: 4 bytes of settings, then the stream.
//   byte 0: bits 0-1 which types the handler wants whole (pgrev's sets for both directions,
//           all, none, or only the frontend set), bits 2-3 the size limit (1 MiB, 1024, 64,
//           16 bytes), bits 4-7 how often the handler suspends (never when 0);
//   bytes 1-3: where the stream is cut into the chunks that arrive one after another.
// A reference walk over the whole stream says which messages must be seen, whole or streamed,
// and where the scan must stop; the bytes sent on must be exactly the bytes consumed. The
// ResultQueue gets both directions' messages in stream order (an ambiguous type goes by the
// decoder that accepts it): its fixes must agree with current_fix(), and no pending change
// may outlive the entries it belongs to.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend_messages.h"
#include "protocol/byte_reader.h"
#include "protocol/frontend_messages.h"
#include "protocol/message_stream.h"
#include "protocol/result_queue.h"
#include "server/client_messages.h"
#include "server/server_messages.h"

using namespace pgrev::protocol;

namespace {

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_message_stream: invariant failed: %s\n", what);
    std::abort();
}
#define CHECK(cond)               \
    do {                          \
        if (!(cond)) fail(#cond); \
    } while (false)

struct Event {
    char type;
    std::uint32_t length;
    bool whole;
    bool operator==(const Event&) const = default;
};

// What pgrev's handlers want whole, from the handlers themselves.
constexpr const MessageTypeSet& kFrontendWhole = pgrev::server::ClientMessages::kWholeTypes;
constexpr const MessageTypeSet& kBackendWhole = pgrev::server::ServerMessages::kWholeTypes;

class FuzzHandler : public MessageHandler {
  public:
    FuzzHandler(int whole_mode, int suspend_every)
        : whole_mode_(whole_mode), suspend_every_(suspend_every) {}

    bool wants_whole(char type) const override {
        switch (whole_mode_) {
            case 0:
                return kFrontendWhole.contains(type) || kBackendWhole.contains(type);
            case 1:
                return true;
            case 2:
                return false;
            default:
                return kFrontendWhole.contains(type);
        }
    }

    bool on_message(const MessageView& m, Output& out) override {
        CHECK(m.bytes.size() >= kHeaderSize);
        CHECK(m.bytes[0] == m.type);
        CHECK(m.body.data() == m.bytes.data() + kHeaderSize);
        CHECK(m.body.size() == m.bytes.size() - kHeaderSize);
        CHECK(read_u32_be(m.bytes.data() + 1) == m.bytes.size() - 1);
        CHECK(wants_whole(m.type));
        if (suspend_every_ != 0 && !retrying_ && ++calls_ % suspend_every_ == 0) {
            retrying_ = true;  // the caller scans again and gets this message once more
            return false;
        }
        retrying_ = false;
        events.push_back({m.type, static_cast<std::uint32_t>(m.bytes.size() - 1), true});
        // A message that re-encodes to its own bytes is sent as pgrev's own copy, otherwise
        // forwarded: either way the bytes sent on are the bytes received.
        std::string copy = decode_all(m);
        if (!copy.empty()) {
            CHECK(copy == std::string_view(m.bytes.data(), m.bytes.size()));
            out.inject(std::move(copy));
        } else {
            out.forward(m.bytes);
        }
        return true;
    }

    void on_streamed(char type, std::uint32_t length, Output&) override {
        CHECK(!wants_whole(type));
        events.push_back({type, length, false});
    }

    std::vector<Event> events;
    ResultQueue queue;

  private:
    // Decodes with every decoder; a decoder that accepts the body must re-encode it to the
    // same bytes where an encoder exists. Drives the ResultQueue as the session would.
    std::string decode_all(const MessageView& m) {
        auto body = m.body;
        std::string_view body_text(body.data(), body.size());
        std::string same;  // the re-encoded message of this type, when one matched
        auto check_round_trip = [&](const std::string& encoded, char encoded_type) {
            CHECK(encoded.size() >= kHeaderSize);
            CHECK(std::string_view(encoded).substr(kHeaderSize) == body_text);
            if (encoded_type == m.type) same = encoded;
        };

        bool execute_ok = false, close_ok = false, error_ok = false, ready_ok = false,
             complete_ok = false;
        try {
            Query q = decode_query(body);
            CHECK(q.sql.size() + 1 == body.size());
            check_round_trip(encode_query(q.sql), frontend::kQuery);
            if (m.type == frontend::kQuery) {
                // One fix per ';' (at most 16), as a rewrite plan would have.
                std::vector<TagFix> fixes(
                    std::min<std::size_t>(16, std::count(q.sql.begin(), q.sql.end(), ';') + 1));
                for (std::size_t i = 0; i < fixes.size() && i < q.sql.size(); ++i)
                    fixes[i] = static_cast<TagFix>(q.sql[i] & 3);
                queue.push_query(std::move(fixes), std::make_shared<int>(1));
            }
        } catch (const ProtocolError&) {
        }
        try {
            Parse p = decode_parse(body);
            check_round_trip(encode_parse(p), frontend::kParse);
            if (m.type == frontend::kParse) {
                // A pending change of the books on every other Parse.
                queue.push_parse(std::make_shared<int>(2), !p.query.empty() && (p.query[0] & 1)
                                                               ? std::make_shared<int>(4)
                                                               : nullptr);
            }
        } catch (const ProtocolError&) {
        }
        try {
            Bind b = decode_bind(body);
            CHECK(b.portal.size() + b.statement.size() + 2 <= body.size());
        } catch (const ProtocolError&) {
        }
        try {
            Execute e = decode_execute(body);
            check_round_trip(encode_execute(e), frontend::kExecute);
            execute_ok = true;
        } catch (const ProtocolError&) {
        }
        try {
            TargetRef t = decode_close(body);
            CHECK(t.kind == 'S' || t.kind == 'P');
            check_round_trip(encode_close(t), frontend::kClose);
            close_ok = true;
        } catch (const ProtocolError&) {
        }
        try {
            TargetRef t = decode_describe(body);
            CHECK(t.kind == 'S' || t.kind == 'P');
            check_round_trip(encode_describe(t), frontend::kDescribe);
        } catch (const ProtocolError&) {
        }
        try {
            ErrorFields e = decode_error_fields(body);
            check_round_trip(encode_error_fields(m.type, e), m.type);
            (void)e.severity();
            (void)e.ends_session();
            (void)e.sqlstate();
            if (!e.fields.empty()) {
                CHECK(e.set(e.fields.front().first, "x"));
                CHECK(e.get(e.fields.front().first) == "x");
            }
            error_ok = true;
        } catch (const ProtocolError&) {
        }
        try {
            char status = decode_ready_for_query(body);
            CHECK(status == 'I' || status == 'T' || status == 'E');
            check_round_trip(encode_ready_for_query(status), backend::kReadyForQuery);
            ready_ok = true;
        } catch (const ProtocolError&) {
        }
        try {
            std::string tag = decode_command_complete(body);
            check_round_trip(encode_command_complete(tag), backend::kCommandComplete);
            complete_ok = true;
        } catch (const ProtocolError&) {
        }
        try {
            CancelKey key = decode_backend_key_data(body);
            CHECK(body.size() >= 8 && body.size() <= 4 + kMaxCancelSecretSize);
            std::string cancel = encode_cancel_request(key);
            CHECK(cancel.size() == 8 + body.size());
            CHECK(std::string_view(cancel).substr(8) == body_text);
        } catch (const ProtocolError&) {
        }
        try {
            ParameterStatus s = decode_parameter_status(body);
            CHECK(s.name.size() + s.value.size() + 2 == body.size());
        } catch (const ProtocolError&) {
        }
        try {
            (void)decode_authentication_code(body);
            CHECK(body.size() >= 4);
        } catch (const ProtocolError&) {
        }

        // The queue, with the decoder that accepted an ambiguous type deciding its direction.
        std::uint64_t unmatched = queue.unmatched();
        switch (m.type) {
            case 'E':
                if (execute_ok) {
                    queue.push_execute(static_cast<TagFix>(body.empty() ? 0 : body[0] & 3),
                                       std::make_shared<int>(3));
                } else if (error_ok) {
                    (void)queue.current_context();
                    (void)queue.current_fix();
                    queue.on_error();
                }
                break;
            case 'C':
                if (complete_ok && !close_ok) {
                    TagFix expected = queue.current_fix();
                    CHECK(queue.on_command_complete() == expected);
                } else if (close_ok) {
                    queue.push_close(body.size() & 1 ? std::make_shared<int>(5) : nullptr);
                }
                break;
            case 'S':
                if (body.empty()) queue.push_sync();
                break;
            case 'F':
                queue.push_function_call();
                break;
            case 'c':  // CopyDone
            case 'f':  // CopyFail
                queue.push_copy_end();
                break;
            case 'G':  // CopyInResponse
                queue.on_copy_in();
                break;
            case '1':
                queue.on_parse_complete();
                break;
            case '3':
                queue.on_close_complete();
                break;
            case 'I':
                queue.on_empty_query();
                break;
            case 's':
                queue.on_portal_suspended();
                break;
            case 'Z':
                if (ready_ok) {
                    std::size_t before = queue.size();
                    queue.on_ready_for_query();
                    CHECK(queue.size() < before || before == 0);
                }
                break;
            default:
                break;
        }
        CHECK(queue.unmatched() >= unmatched);
        CHECK(queue.empty() == (queue.size() == 0));
        if (queue.empty()) CHECK(queue.current_context() == nullptr);
        // A pending change belongs to an entry still queued.
        if (queue.empty()) CHECK(!queue.has_pending());
        if (!queue.awaiting_answers()) CHECK(!queue.has_pending());
        return same;
    }

    int whole_mode_;
    int suspend_every_;
    int calls_ = 0;
    bool retrying_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const int whole_mode = data[0] & 3;
    static constexpr std::size_t kLimits[] = {1 << 20, 1024, 64, 16};
    const std::size_t limit = kLimits[(data[0] >> 2) & 3];
    const int suspend_every = data[0] >> 4;
    std::string_view stream(reinterpret_cast<const char*>(data) + 4, size - 4);
    const std::size_t n = stream.size();
    std::vector<std::size_t> cuts = {data[1] * n / 256, data[2] * n / 256, data[3] * n / 256, n};
    std::sort(cuts.begin(), cuts.end());

    // The reference: the messages a correct scan reports, and whether it must stop on a bad
    // length or an oversized message.
    FuzzHandler handler(whole_mode, suspend_every);
    std::vector<Event> expected;
    bool expect_refusal = false;
    for (std::size_t pos = 0; pos + kHeaderSize <= n;) {
        char type = stream[pos];
        std::uint32_t length = read_u32_be(stream.data() + pos + 1);
        if (length < 4 || std::size_t{length} + 1 > limit) {
            expect_refusal = true;
            break;
        }
        std::size_t total = std::size_t{length} + 1;
        bool whole = handler.wants_whole(type);
        if (whole && pos + total > n) break;
        expected.push_back({type, length, whole});
        pos += total;
    }

    MessageStream ms(limit);
    std::string buffer;  // what the caller holds: received and not yet consumed
    std::string sent;
    std::size_t received = 0;
    bool refused = false;
    std::size_t from = 0;
    for (std::size_t cut : cuts) {
        if (refused) break;
        buffer.append(stream.substr(from, cut - from));
        received += cut - from;
        from = cut;
        while (true) {
            Output out;
            MessageStream::Result r;
            try {
                r = ms.scan({buffer.data(), buffer.size()}, handler, out);
            } catch (const ProtocolError&) {
                fail("ProtocolError escaped from scan (the handler catches them all)");
            }
            CHECK(r.consumed <= buffer.size());
            for (const auto& segment : out.segments())
                sent.append(segment.data(), segment.size());
            buffer.erase(0, r.consumed);
            if (r.status == MessageStream::Status::Suspended) {
                CHECK(ms.at_message_boundary());
                continue;  // the handler is ready now
            }
            if (r.status == MessageStream::Status::TooLarge ||
                r.status == MessageStream::Status::BadLength) {
                CHECK(ms.at_message_boundary());
                CHECK(buffer.size() >= kHeaderSize);
                refused = true;
                break;
            }
            if (r.status == MessageStream::Status::NeedMoreData) {
                CHECK(ms.at_message_boundary());
                CHECK(r.needed > buffer.size());
                CHECK(r.needed <= std::max(limit, kHeaderSize));
            } else {
                CHECK(buffer.empty());
            }
            break;
        }
        // Everything consumed so far was sent on, unchanged and in order.
        CHECK(sent.size() == received - buffer.size());
        CHECK(std::string_view(sent) == stream.substr(0, sent.size()));
    }
    CHECK(handler.events == expected);
    CHECK(refused == expect_refusal);
    return 0;
}
