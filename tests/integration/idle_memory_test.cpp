// Memory pgrev holds per idle client session (README, Performance): a session that waits for
// its client holds no read buffers (server/pump.h); they are taken while data flows. Measured
// as the growth of pgrev's resident memory (VmRSS) over many idle sessions, each logged in and
// done with a query, on a pgrev of its own. RSS is no timing: pages a process touched stay
// resident, so the figure does not depend on the machine's speed. Each test warms up first,
// so that what pgrev allocates once (pools, caches, the first session of each thread) is not
// counted. The bound is generous: a pgrev that keeps its two 32 KiB buffers per session holds
// about 70 KiB each.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "raw_client.h"
#include "test_env.h"

using namespace pgrev::it;

namespace {

constexpr int kSessions = 200;
constexpr int kWarmup = 20;
#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer (scripts/sanitize.sh) adds redzones to every allocation; still far below
// the two buffers per session of a pgrev that keeps them.
constexpr long kMaxKibPerSession = 32;
constexpr bool kAddressSanitizer = true;
#else
constexpr long kMaxKibPerSession = 16;
constexpr bool kAddressSanitizer = false;
#endif

Deadline soon() {
    return deadline_in(std::chrono::seconds(10));
}

long vm_rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    }
    FAIL("no VmRSS for pid " << pid);
    return 0;
}

// Reads messages up to ReadyForQuery; false on an ErrorResponse or a close.
bool read_until_ready(RawClient& client, std::size_t* bytes = nullptr) {
    while (auto message = client.read_message(soon())) {
        if (bytes != nullptr) *bytes += message->body.size();
        if (message->type == 'E') return false;
        if (message->type == 'Z') return true;
    }
    return false;
}

// A session logged in (trust) that has run `sql` and now waits for its client.
RawClient idle_session(std::uint16_t port, const std::string& sql, std::size_t* result_bytes) {
    RawClient client = RawClient::connect(port, soon());
    REQUIRE(client.send_all(startup_packet("postgres", "app")));
    REQUIRE(read_until_ready(client));
    REQUIRE(client.send_all(query_message(sql)));
    REQUIRE(read_until_ready(client, result_bytes));
    return client;
}

struct Growth {
    long before_kib = 0;
    long after_kib = 0;
    long per_session_kib() const { return (after_kib - before_kib) / kSessions; }
};

// Under AddressSanitizer, freed memory is held in a quarantine (to catch uses after free), and
// detect_stack_use_after_return moves stack frames to the heap, so RSS grows with what pgrev
// ever freed or called, not with what it holds: this test's pgrev runs without both. The
// environment is set while it starts (later options win), and put back.
class AsanHoldsNothing {
  public:
    AsanHoldsNothing() {
        if (!kAddressSanitizer) return;
        const char* options = std::getenv("ASAN_OPTIONS");
        saved_ = options == nullptr ? std::nullopt : std::optional<std::string>(options);
        std::string changed = saved_.value_or("");
        ::setenv("ASAN_OPTIONS",
                 (changed + (changed.empty() ? "" : ":") +
                  "quarantine_size_mb=0:detect_stack_use_after_return=0")
                     .c_str(),
                 1);
    }
    ~AsanHoldsNothing() {
        if (!kAddressSanitizer) return;
        if (saved_) {
            ::setenv("ASAN_OPTIONS", saved_->c_str(), 1);
        } else {
            ::unsetenv("ASAN_OPTIONS");
        }
    }
    AsanHoldsNothing(const AsanHoldsNothing&) = delete;
    AsanHoldsNothing& operator=(const AsanHoldsNothing&) = delete;

  private:
    std::optional<std::string> saved_;
};

std::unique_ptr<PgrevProcess> start_measured_pgrev() {
    AsanHoldsNothing asan_holds_nothing;
    return TestEnv::get().start_pgrev(PgrevLimits{});
}

Growth rss_growth_over_idle_sessions(const std::string& sql, std::size_t min_result_bytes) {
    std::unique_ptr<PgrevProcess> pgrev = start_measured_pgrev();
    std::vector<RawClient> sessions;
    sessions.reserve(kWarmup + kSessions);
    for (int i = 0; i < kWarmup; ++i)
        sessions.push_back(idle_session(pgrev->port(), sql, nullptr));
    // The last answers written and their buffers given back.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    Growth growth;
    growth.before_kib = vm_rss_kib(pgrev->pid());
    for (int i = 0; i < kSessions; ++i) {
        std::size_t result_bytes = 0;
        sessions.push_back(idle_session(pgrev->port(), sql, &result_bytes));
        REQUIRE(result_bytes >= min_result_bytes);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    growth.after_kib = vm_rss_kib(pgrev->pid());
    REQUIRE(pgrev->running());
    MESSAGE("pgrev VmRSS " << growth.before_kib << " KiB, with " << kSessions
                           << " more idle sessions " << growth.after_kib
                           << " KiB: " << growth.per_session_kib() << " KiB per session");
    return growth;
}

}  // namespace

TEST_CASE("an idle session costs pgrev less than 16 KiB of resident memory") {
    if (skip_without_pgrev()) return;
    Growth growth = rss_growth_over_idle_sessions("SELECT 1", 0);
    CHECK(growth.per_session_kib() < kMaxKibPerSession);
}

TEST_CASE(
    "a session that moved messages larger than the read buffer gives the memory back when "
    "idle") {
    if (skip_without_pgrev()) return;
    // A 100 kB Query (a message pgrev wants whole: the buffer grows for it) answered by a
    // 300 kB row (streamed through the buffer): both directions used more than a buffer.
    std::string big_literal(100 * 1024, 'q');
    Growth growth = rss_growth_over_idle_sessions(
        "SELECT length('" + big_literal + "'), repeat('r', 300 * 1024)", 300 * 1024);
    CHECK(growth.per_session_kib() < kMaxKibPerSession);
}
