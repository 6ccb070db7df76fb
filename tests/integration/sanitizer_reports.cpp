#include "sanitizer_reports.h"

#include <doctest/doctest.h>

#include <atomic>
#include <iostream>
#include <sstream>

namespace pgrev::it {

namespace {

// The first line of each kind of report (compiler-rt prints the same with gcc and clang).
// UndefinedBehaviorSanitizer's lines are `file:line:col: runtime error: ...`, then a SUMMARY.
constexpr const char* kMarkers[] = {
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    ": runtime error: ",
    "SUMMARY: UndefinedBehaviorSanitizer",
};

constexpr std::size_t kMaxReportLines = 60;

std::atomic<int> reports_found{0};

}  // namespace

std::string sanitizer_report(const std::string& output) {
    std::size_t first = std::string::npos;
    for (const char* marker : kMarkers)
        first = std::min(first, output.find(marker));
    if (first == std::string::npos) return "";
    std::size_t line_start = output.rfind('\n', first);
    line_start = line_start == std::string::npos ? 0 : line_start + 1;
    std::istringstream in(output.substr(line_start));
    std::string report;
    std::size_t lines = 0;
    for (std::string line; lines < kMaxReportLines && std::getline(in, line); ++lines)
        report += line + "\n";
    return report;
}

void check_sanitizer_output(const std::string& source, const std::string& output) {
    std::string report = sanitizer_report(output);
    if (report.empty()) return;
    ++reports_found;
    std::cerr << "=== sanitizer report in " << source << " ===\n" << report << "===\n";
    // Outside a test (the shared pgrev stops at exit) TestEnv's destructor fails the run.
    if (doctest::is_running_in_test) {
        FAIL_CHECK("sanitizer report in " << source << ":\n" << report);
    }
}

int sanitizer_reports_found() {
    return reports_found.load();
}

}  // namespace pgrev::it
