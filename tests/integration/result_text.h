// Results as text, so "transparent means identical" is a string comparison and a failure
// shows exactly where direct and proxied answers differ.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

namespace pgrev::it {

// Status, command tag, columns (name, type OID, typmod, format), rows (binary values as
// hex), and for errors SQLSTATE, severity, message, detail, hint, position and context.
std::string describe_result(const PGresult* result);

// The connection-level messages of libpq with the port number masked, since a direct
// and a proxied connection necessarily name different ports.
std::string mask_ports(const std::string& text);

// Empty when equal; otherwise the first differing line of each, with line number.
std::string first_difference(const std::string& expected, const std::string& actual);

// Fails the current doctest check (without stopping the test) when `direct` and
// `proxied` differ, printing the story and the first difference.
void check_same(const std::string& story, const std::string& direct, const std::string& proxied);

}  // namespace pgrev::it
