// The SQLSTATEs pgrev puts in the errors it makes itself (refusals, failed startups), named as
// PostgreSQL names them in its errcodes.txt. One place, so that the code says which error it
// means and a reader can find every refusal of one kind. The namespace is pgrev::sqlstate, not
// pgrev::protocol: audit/ and server/ name these too, as `sqlstate::kFeatureNotSupported`.
#pragma once

#include <string_view>

namespace pgrev::sqlstate {

// Class 08: connection exception.
inline constexpr std::string_view kConnectionFailure = "08006";
inline constexpr std::string_view kProtocolViolation = "08P01";
// Class 0A: feature not supported. Most refusals: pgrev cannot audit the statement.
inline constexpr std::string_view kFeatureNotSupported = "0A000";
// Class 28: invalid authorization specification.
inline constexpr std::string_view kInvalidAuthorizationSpecification = "28000";
// Class 42: syntax error or access rule violation.
inline constexpr std::string_view kSyntaxError = "42601";
// A change of revision history, which is append-only.
inline constexpr std::string_view kInsufficientPrivilege = "42501";
inline constexpr std::string_view kUndefinedTable = "42P01";
inline constexpr std::string_view kWrongObjectType = "42809";
// Class 53: insufficient resources.
inline constexpr std::string_view kTooManyConnections = "53300";
// Class 54: program limit exceeded.
inline constexpr std::string_view kProgramLimitExceeded = "54000";
inline constexpr std::string_view kStatementTooComplex = "54001";
// Class 55: object not in prerequisite state.
inline constexpr std::string_view kObjectNotInPrerequisiteState = "55000";
// Class 57: operator intervention.
inline constexpr std::string_view kIdleSessionTimeout = "57P05";
// Class 58: system error (errors external to PostgreSQL itself).
inline constexpr std::string_view kSystemError = "58000";
// Class XX: internal error.
inline constexpr std::string_view kInternalError = "XX000";

}  // namespace pgrev::sqlstate
