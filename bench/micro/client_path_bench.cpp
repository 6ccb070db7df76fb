// The whole path of one ORM statement through a session's handlers, without sockets: the
// client's messages through protocol::MessageStream into server::ClientMessages::on_message
// (prefilter, plan, rewrite, books), then the server's answers through ServerMessages (tag
// restored, queue emptied), so that every iteration starts from the books of an idle session,
// as the next request of a real one does. The catalog is fixed (tests/server/handler_harness.h).
//
//   client_path/<mode>/pass_*        the same workload on "booking", which is not audited
//   client_path/<mode>/*_text_hit    the same text every time: the plan cache finds the text
//   client_path/<mode>/*_shape_hit   new literals and a new trace id in the comment each time,
//                                    the shape stays: whatever ClientMessages::plan_for does
//   client_path/<mode>/*_shape_miss  a new shape each time (a new table alias): a full parse
// <mode> is query (a simple Query, literals inlined, as psycopg2 sends) or extended (Parse,
// Bind, Describe, Execute, Sync with the values as parameters, as node-postgres sends).
// Audit CPU per statement = an audited case minus its pass_* case.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/micro/orm_statements.h"
#include "protocol/backend_messages.h"
#include "protocol/byte_reader.h"
#include "protocol/frontend_messages.h"
#include "tests/server/handler_harness.h"

namespace {

using namespace pgrev;
using test::message;

enum class Mode { Query, Extended };
enum class Statement { DjangoUpdate, RailsInsert };
enum class Variation { SameText, NewLiterals, NewShape };

// What the server answers, piece by piece: pgrev sends a text as it is, rewritten, or as its
// own prepared statement (a Parse the first time, then a Bind), so the answers are made for
// the messages it sent (Path::answer), as PostgreSQL would make them.
struct ServerAnswers {
    std::string description;  // to a Describe: a RowDescription, or NoData
    std::string rows;         // RETURNING's rows
    std::string complete;     // the CommandComplete of the statement pgrev sent
    std::string ready;
};

// One request's messages both ways, and what the client must get back.
struct Exchange {
    std::string from_client;
    ServerAnswers server;
    std::string to_client;  // the answers with the tag pgrev restores
};

std::string bind_message(const std::vector<std::string>& values) {
    std::string body;
    body.append(2, '\0');       // unnamed portal, unnamed statement
    body.append({'\0', '\0'});  // no parameter format codes: all text
    auto put16 = [&](std::size_t n) {
        body.push_back(static_cast<char>((n >> 8) & 0xff));
        body.push_back(static_cast<char>(n & 0xff));
    };
    auto put32 = [&](std::size_t n) {
        for (int shift = 24; shift >= 0; shift -= 8)
            body.push_back(static_cast<char>((n >> shift) & 0xff));
    };
    put16(values.size());
    for (const std::string& v : values) {
        put32(v.size());
        body += v;
    }
    body.append({'\0', '\0'});  // no result format codes: all text
    return message(protocol::frontend::kBind, body);
}

// RETURNING "id": its RowDescription (one int4 column) and the row of the new id.
std::string row_description() {
    std::string body{'\0', '\1'};
    body += "id";
    body += '\0';
    body.append({'\0', '\0', '\0', '\0', '\0', '\0'});          // no table, no column number
    body.append({'\0', '\0', '\0', '\x17', '\0', '\4'});        // int4, 4 bytes
    body.append({'\xff', '\xff', '\xff', '\xff', '\0', '\0'});  // no typmod, text
    return message('T', body);
}
std::string data_row(std::uint64_t i) {
    std::string id = std::to_string(1000000 + i % 1000000);
    std::string body{'\0', '\1', '\0', '\0', '\0', static_cast<char>(id.size())};
    return message('D', body + id);
}

Exchange make_exchange(Mode mode, Statement statement, bool audited, Variation variation,
                       std::uint64_t i) {
    const std::string table = audited ? "reservation" : "booking";
    // A new alias per request is a new shape; "u" + number stays a plain identifier.
    const std::string alias = variation == Variation::NewShape ? "u" + std::to_string(i) : "";
    const bool update = statement == Statement::DjangoUpdate;
    Exchange x;
    std::string rows_head, rows;
    if (!update) {
        rows_head = row_description();
        rows = data_row(i);
    }
    // The server's tag for pgrev's rewrite is that of its outer statement: the INSERT into the
    // revisions, or with RETURNING the SELECT of the rows; the client gets its own tag back.
    const std::string client_tag = update ? "UPDATE 1" : "INSERT 0 1";
    const std::string server_tag = !audited ? client_tag : update ? "INSERT 0 1" : "SELECT 1";
    const std::string no_data = message(protocol::backend::kNoData, "");
    x.server = {update ? no_data : rows_head, rows, protocol::encode_command_complete(server_tag),
                protocol::encode_ready_for_query('I')};
    std::string head = rows_head;
    if (mode == Mode::Extended) {
        head = protocol::encode_parse_complete() + message(protocol::backend::kBindComplete, "") +
               (update ? no_data : rows_head);
    }
    x.to_client = head + rows + protocol::encode_command_complete(client_tag) + x.server.ready;
    if (mode == Mode::Query) {
        x.from_client = protocol::encode_query(update ? bench::django_update(table, i, alias)
                                                      : bench::rails_insert(table, i));
        return x;
    }
    std::string sql = update ? bench::django_update_parameterized(table, i, alias)
                             : bench::rails_insert_parameterized(table, i);
    x.from_client =
        test::parse_message("", sql) +
        bind_message(update ? bench::django_update_values(i) : bench::rails_insert_values(i)) +
        protocol::encode_describe({'P', ""}) + test::execute_message() + protocol::encode_sync();
    return x;
}

// Exchanges made ahead of the timed loop, a batch at a time (refilled with the timer
// paused). Numbered across the whole process, since the benchmark library calls a benchmark
// several times and the plan cache outlives each call: a text meant to be new never was seen.
class ExchangeSupply {
  public:
    using Make = std::function<Exchange(std::uint64_t)>;
    ExchangeSupply(Make make, bool same_every_time)
        : make_(std::move(make)), same_(same_every_time) {
        refill();
    }

    const Exchange& next(benchmark::State& state) {
        if (at_ == batch_.size()) {
            state.PauseTiming();
            refill();
            state.ResumeTiming();
        }
        return batch_[at_++];
    }
    const Exchange& peek() const { return batch_[at_]; }

  private:
    static constexpr std::size_t kBatch = 1024;
    void refill() {
        batch_.clear();
        for (std::size_t k = 0; k < kBatch; ++k)
            batch_.push_back(make_(same_ ? 0 : next_number_++));
        at_ = 0;
    }

    Make make_;
    bool same_;
    std::vector<Exchange> batch_;
    std::size_t at_ = 0;
    static inline std::uint64_t next_number_ = 1;
};

struct Path {
    test::HandlerHarness h;
    protocol::MessageStream client_stream{1 << 20};
    protocol::MessageStream server_stream{std::size_t{1} << 31};
    protocol::Output to_server;
    protocol::Output to_client;

    std::string from_server;

    void run(const Exchange& x) {
        to_server.clear();
        auto sent = client_stream.scan(x.from_client, h.client, to_server);
        benchmark::DoNotOptimize(sent);
        answer(x.server);
        to_client.clear();
        auto back = server_stream.scan(from_server, h.server, to_client);
        benchmark::DoNotOptimize(back);
    }
    // The server's answers to what pgrev sent, message by message (the same small cost in
    // every case, pass-through or audited).
    void answer(const ServerAnswers& a) {
        from_server.clear();
        for (const auto& segment : to_server.segments()) {
            for (std::size_t at = 0; at + 5 <= segment.size();) {
                char type = segment[at];
                std::uint32_t length = protocol::read_u32_be(segment.data() + at + 1);
                at += 1 + length;
                namespace fe = protocol::frontend;
                switch (type) {
                    case fe::kQuery:
                        if (a.description[0] == protocol::backend::kRowDescription) {
                            from_server += a.description;
                        }
                        from_server += a.rows + a.complete + a.ready;
                        break;
                    case fe::kParse:
                        from_server += kParseComplete;
                        break;
                    case fe::kBind:
                        from_server += kBindComplete;
                        break;
                    case fe::kClose:
                        from_server += kCloseComplete;
                        break;
                    case fe::kDescribe:
                        from_server += a.description;
                        break;
                    case fe::kExecute:
                        from_server += a.rows + a.complete;
                        break;
                    case fe::kSync:
                        from_server += a.ready;
                        break;
                    default:
                        break;
                }
            }
        }
    }
    static inline const std::string kParseComplete = protocol::encode_parse_complete();
    static inline const std::string kBindComplete = message(protocol::backend::kBindComplete, "");
    static inline const std::string kCloseComplete = message(protocol::backend::kCloseComplete, "");
    static std::string joined(const protocol::Output& out) {
        std::string s;
        for (const auto& segment : out.segments())
            s.append(segment.data(), segment.size());
        return s;
    }
    // What makes the figures mean what their names say; empty when all holds.
    // The same exchange three times: sent as text, then prepared on the server session, then
    // bound again (server/own_statements.h), as the timed loop's statements are.
    std::string check(const Exchange& x, bool audited) {
        std::string sent;
        for (int time = 1; time <= 3; ++time) {
            run(x);
            sent = joined(to_server);
            if (h.session.suspended || h.session.catalog_requests != 0) return "the session waited";
            if (audited && time == 1 && sent.find("\"reservation_rev\"") == std::string::npos) {
                return "the audited statement went without its revision insert";
            }
            if (!audited && sent != x.from_client) return "the pass-through statement was changed";
            if (joined(to_client) != x.to_client) return "the client got other answers";
            if (!h.state.results.empty() || h.state.results.unmatched() != 0) {
                return "the result queue is out of step";
            }
        }
        if (audited && sent.find("__pgrev_") == std::string::npos) {
            return "the audited statement was not bound to pgrev's prepared statement";
        }
        return {};
    }
};

void client_path(benchmark::State& state, Mode mode, Statement statement, bool audited,
                 Variation variation) {
    Path path;
    ExchangeSupply supply(
        [=](std::uint64_t i) { return make_exchange(mode, statement, audited, variation, i); },
        variation == Variation::SameText);
    if (std::string problem = path.check(supply.peek(), audited); !problem.empty()) {
        state.SkipWithError(problem.c_str());
        return;
    }
    for (auto _ : state)
        path.run(supply.next(state));
    if (!path.h.state.results.empty() || path.h.state.results.unmatched() != 0) {
        state.SkipWithError("the result queue went out of step");
    }
    state.SetItemsProcessed(state.iterations());
}

struct Case {
    const char* name;
    Statement statement;
    bool audited;
    Variation variation;
};
constexpr Case kCases[] = {
    {"pass_update", Statement::DjangoUpdate, false, Variation::NewLiterals},
    {"audited_update_text_hit", Statement::DjangoUpdate, true, Variation::SameText},
    {"audited_update_shape_hit", Statement::DjangoUpdate, true, Variation::NewLiterals},
    {"audited_update_shape_miss", Statement::DjangoUpdate, true, Variation::NewShape},
    {"pass_insert_returning", Statement::RailsInsert, false, Variation::NewLiterals},
    {"audited_insert_returning_shape_hit", Statement::RailsInsert, true, Variation::NewLiterals},
};

// client_path/<mode>/<case>, both modes for every case.
bool register_client_paths() {
    for (Mode mode : {Mode::Query, Mode::Extended}) {
        for (const Case& c : kCases) {
            std::string name = std::string("client_path/") +
                               (mode == Mode::Query ? "query/" : "extended/") + c.name;
            benchmark::RegisterBenchmark(name.c_str(), client_path, mode, c.statement, c.audited,
                                         c.variation);
        }
    }
    return true;
}
[[maybe_unused]] const bool registered = register_client_paths();

}  // namespace
