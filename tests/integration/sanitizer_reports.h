// Sanitizer reports of the pgrev processes a test binary starts. Under scripts/sanitize.sh
// pgrev is built with AddressSanitizer and UndefinedBehaviorSanitizer; its reports go to its
// stderr, which is the log file the harness keeps. A report there is a bug in pgrev even
// when every client saw the right answer, so the harness reads each log when the process
// stops and fails the test (or, at exit, the whole run) when it finds one.
#pragma once

#include <string>

namespace pgrev::it {

// The report in `output` (from its first line on, at most a screenful), or "" if none.
std::string sanitizer_report(const std::string& output);

// When `output` holds a report: prints it with `source` (e.g. the log's path), fails the
// running test if there is one, and counts it for sanitizer_reports_found().
void check_sanitizer_output(const std::string& source, const std::string& output);

// How many reports check_sanitizer_output found in this process so far.
int sanitizer_reports_found();

}  // namespace pgrev::it
