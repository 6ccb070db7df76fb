// `pgrev verify` and `pgrev baseline`: checks that the revision history of every audited table
// matches its rows, and records a first revision for rows that predate auditing. They connect
// as the admin role straight to PostgreSQL (not through pgrev), to every database that allows
// connections or those given. README.md, "Checking the history", says what is checked.
#pragma once

#include <string>
#include <vector>

namespace pgrev::server {

// The --help text of both commands: their usage lines and what they do (main.cpp prints them
// with its own).
extern const char* const kHistoryUsage;
extern const char* const kHistoryDescription;

// `command` is "verify" or "baseline"; `args` what follows it on the command line. Returns the
// exit status: verify 0 no discrepancy, 1 some, 2 could not check; baseline 0 done, 2 not.
int run_history_command(const std::string& command, const std::vector<std::string>& args);

}  // namespace pgrev::server
