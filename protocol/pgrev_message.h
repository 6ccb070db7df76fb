// pgrev's own error messages start with "pgrev: ", so that a DBA can tell them from the
// server's. They are made here only, and recognised here only.
#pragma once

#include <string>
#include <string_view>

namespace pgrev::protocol {

inline constexpr std::string_view kPgrevMessagePrefix = "pgrev: ";

// "pgrev: " + text.
inline std::string pgrev_message(std::string_view text) {
    std::string message(kPgrevMessagePrefix);
    message += text;
    return message;
}

// The message was made by pgrev_message (or by a refusal pgrev sent the server to raise).
inline bool is_pgrev_message(std::string_view message) {
    return message.starts_with(kPgrevMessagePrefix);
}

}  // namespace pgrev::protocol
