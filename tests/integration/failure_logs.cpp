// When a test fails, the lines pgrev and PostgreSQL logged while it ran are printed below
// the failure: most proxy bugs explain themselves there.
#include <doctest/doctest.h>

#include <iostream>
#include <sstream>
#include <vector>

#include "test_env.h"

namespace pgrev::it {

namespace {

constexpr std::size_t kMaxLines = 80;

std::string tail_since(const std::string& text, std::size_t offset) {
    if (offset > text.size()) offset = 0;  // a different file (another instance)
    std::istringstream in(text.substr(offset));
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    std::string tail;
    if (lines.size() > kMaxLines) {
        tail = "... (" + std::to_string(lines.size() - kMaxLines) + " lines before)\n";
        lines.erase(lines.begin(), lines.end() - kMaxLines);
    }
    for (const std::string& line : lines)
        tail += line + "\n";
    return tail;
}

class LogsOnFailure : public doctest::IReporter {
  public:
    explicit LogsOnFailure(const doctest::ContextOptions&) {}

    void test_case_start(const doctest::TestCaseData&) override {
        TestEnv* env = TestEnv::if_started();
        pgrev_offset_ = env && env->pgrev_if_any() ? env->pgrev_if_any()->log_text().size() : 0;
        server_offset_ = env ? env->cluster().log_text().size() : 0;
        extra_instances_ = env ? env->extra_pgrev_logs().size() : 0;
    }

    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        TestEnv* env = TestEnv::if_started();
        if (stats.testCaseSuccess || env == nullptr) return;
        if (PgrevProcess* pgrev = env->pgrev_if_any()) {
            std::cerr << "--- pgrev log during this test ---\n"
                      << tail_since(pgrev->log_text(), pgrev_offset_);
        }
        const std::vector<std::string>& extra = env->extra_pgrev_logs();
        for (std::size_t i = extra_instances_; i < extra.size(); ++i) {
            std::cerr << "--- log of the extra pgrev " << extra[i] << " ---\n"
                      << tail_since(read_file(extra[i]), 0);
        }
        std::cerr << "--- PostgreSQL log during this test ---\n"
                  << tail_since(env->cluster().log_text(), server_offset_) << "---\n";
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
    std::size_t pgrev_offset_ = 0;
    std::size_t server_offset_ = 0;
    std::size_t extra_instances_ = 0;
};

}  // namespace

DOCTEST_REGISTER_LISTENER("logs-on-failure", 1, LogsOnFailure);

}  // namespace pgrev::it
