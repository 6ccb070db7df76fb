// The server-to-client messages pgrev reads or writes itself. Everything else passes untouched.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/startup_packet.h"

namespace pgrev::protocol {

namespace backend {
constexpr char kAuthentication = 'R';
constexpr char kBackendKeyData = 'K';
constexpr char kBindComplete = '2';
constexpr char kCloseComplete = '3';
constexpr char kCommandComplete = 'C';
constexpr char kCopyInResponse = 'G';
constexpr char kCopyOutResponse = 'H';
constexpr char kCopyBothResponse = 'W';
constexpr char kDataRow = 'D';
constexpr char kEmptyQueryResponse = 'I';
constexpr char kErrorResponse = 'E';
constexpr char kNoData = 'n';
constexpr char kNoticeResponse = 'N';
constexpr char kParameterStatus = 'S';
constexpr char kParseComplete = '1';
constexpr char kPortalSuspended = 's';
constexpr char kReadyForQuery = 'Z';
constexpr char kRowDescription = 'T';
}  // namespace backend

// ErrorResponse / NoticeResponse: (field code, value) pairs in the order they came.
struct ErrorFields {
    std::vector<std::pair<char, std::string>> fields;

    std::string get(char code) const;  // empty when absent
    // 'V' is the untranslated severity (9.6+); 'S' may be localized.
    std::string severity() const;
    std::string sqlstate() const { return get('C'); }
    std::string message() const { return get('M'); }
    // FATAL or PANIC: the server closes the connection after it.
    bool ends_session() const;
    // Replaces the value of a field that is present; false when it is absent.
    bool set(char code, std::string value);
    // Removes a field; false when it is absent.
    bool erase(char code);
};

ErrorFields decode_error_fields(std::span<const char> body);
// ErrorResponse ('E') or NoticeResponse ('N') with these fields, in their order.
std::string encode_error_fields(char type, const ErrorFields& error);

// An ErrorResponse pgrev makes itself. Messages start with "pgrev: " so a DBA can tell them
// from the server's own.
struct PgrevError {
    std::string severity = "ERROR";  // ERROR or FATAL
    std::string sqlstate;
    std::string message;
    std::string detail;
    std::string hint;
};
std::string encode_error_response(const PgrevError& error);
// A FATAL of pgrev's own: `text` gets the "pgrev: " prefix.
PgrevError pgrev_fatal(std::string_view sqlstate, std::string_view text);

// ReadyForQuery: the transaction status, 'I' idle, 'T' in a block, 'E' in a failed block.
char decode_ready_for_query(std::span<const char> body);
std::string encode_ready_for_query(char transaction_status);
std::string encode_parse_complete();

std::string decode_command_complete(std::span<const char> body);
std::string encode_command_complete(std::string_view tag);

CancelKey decode_backend_key_data(std::span<const char> body);

struct ParameterStatus {
    std::string name;
    std::string value;
};
ParameterStatus decode_parameter_status(std::span<const char> body);

// Authentication request code: 0 ok, 3 cleartext, 5 md5, 10 SASL, 11 SASL continue, 12 final.
std::int32_t decode_authentication_code(std::span<const char> body);

}  // namespace pgrev::protocol
