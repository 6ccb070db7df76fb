// The client-to-server messages pgrev reads or writes itself (the query path).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::protocol {

namespace frontend {
constexpr char kBind = 'B';
constexpr char kClose = 'C';
constexpr char kCopyData = 'd';
constexpr char kCopyDone = 'c';
constexpr char kCopyFail = 'f';
constexpr char kDescribe = 'D';
constexpr char kExecute = 'E';
constexpr char kFlush = 'H';
constexpr char kFunctionCall = 'F';
constexpr char kParse = 'P';
constexpr char kPassword = 'p';  // also SASLInitialResponse and SASLResponse
constexpr char kQuery = 'Q';
constexpr char kSync = 'S';
constexpr char kTerminate = 'X';
}  // namespace frontend

struct Query {
    std::string_view sql;
};

struct Parse {
    std::string_view statement;  // "" is the unnamed statement
    std::string_view query;
    std::vector<std::uint32_t> parameter_types;
};

// Only the names are decoded: parameters and formats pass through as they are.
struct Bind {
    std::string_view portal;
    std::string_view statement;
};

struct Execute {
    std::string_view portal;
    std::int32_t max_rows = 0;
};

// Close and Describe: 'S' statement or 'P' portal, and its name.
struct TargetRef {
    char kind = 'S';
    std::string_view name;
};

// Decoders take a message body (after the 5-byte header); views point into it.
// Each throws ProtocolError when the body is malformed.
Query decode_query(std::span<const char> body);
Parse decode_parse(std::span<const char> body);
Bind decode_bind(std::span<const char> body);
Execute decode_execute(std::span<const char> body);
TargetRef decode_close(std::span<const char> body);
TargetRef decode_describe(std::span<const char> body);

std::string encode_query(std::string_view sql);
std::string encode_parse(const Parse& parse);
// A Bind with no parameters and text results.
std::string encode_bind(std::string_view portal, std::string_view statement);
// A Bind with `values` as parameters in text format, and text results.
std::string encode_bind_text(std::string_view portal, std::string_view statement,
                             const std::vector<std::string>& values);
// The Bind whose body is `body` (decoded as `bind`) naming `statement` instead of its own,
// its parameters and formats as they are.
std::string encode_bind_renamed(std::span<const char> body, const Bind& bind,
                                std::string_view statement);
std::string encode_execute(const Execute& execute);
std::string encode_close(const TargetRef& target);
std::string encode_describe(const TargetRef& target);
std::string encode_sync();

}  // namespace pgrev::protocol
