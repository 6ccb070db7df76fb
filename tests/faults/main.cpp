// doctest's main for the fault tests. The PostgreSQL of the suite (test_env.h) is started by
// the first test; no shared pgrev: each test runs its own (fault_support.h), which it may kill.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>
#include <iostream>

#include "fault_support.h"
#include "test_env.h"

namespace {

// Under a failed test, the end of the log of each pgrev it ran (tests/integration's listener
// prints PostgreSQL's log).
class PgrevLogsOnFailure : public doctest::IReporter {
  public:
    explicit PgrevLogsOnFailure(const doctest::ContextOptions&) {}
    void test_case_start(const doctest::TestCaseData&) override {
        logs_before_ = pgrev::it::faults::pgrev_logs().size();
    }
    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        if (stats.testCaseSuccess) return;
        std::vector<std::string> logs = pgrev::it::faults::pgrev_logs();
        for (std::size_t i = logs_before_; i < logs.size(); ++i) {
            std::string text = pgrev::it::read_file(logs[i]);
            constexpr std::size_t kTail = 8000;
            if (text.size() > kTail) text = "..." + text.substr(text.size() - kTail);
            std::cerr << "--- end of the log of " << logs[i] << " ---\n" << text;
        }
    }
    void report_query(const doctest::QueryData&) override {}
    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}
    void test_case_reenter(const doctest::TestCaseData&) override {}
    void test_case_exception(const doctest::TestCaseException&) override {}
    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}
    void log_assert(const doctest::AssertData&) override {}
    void log_message(const doctest::MessageData&) override {}
    void test_case_skipped(const doctest::TestCaseData&) override {}

  private:
    std::size_t logs_before_ = 0;
};

}  // namespace

DOCTEST_REGISTER_LISTENER("pgrev-logs-on-failure", 2, PgrevLogsOnFailure);

int main(int argc, char** argv) {
    // A client writing to a connection that a fault has just closed must get an error, not
    // the end of the run.
    std::signal(SIGPIPE, SIG_IGN);
    pgrev::it::TestEnvOptions options;
    options.shared_pgrev = false;
    pgrev::it::TestEnv::configure(options);
    doctest::Context context(argc, argv);
    return context.run();
}
