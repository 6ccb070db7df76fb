// Byte sequences libpq will not send (pipelined simple Queries, named portals), sent directly
// and through pgrev, with what came back written one message a line.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "audit_support.h"
#include "frontend_builder.h"
#include "raw_client.h"

namespace pgrev::it::audit_it {

// Type, then the SQLSTATE and message of errors, the tag of completions.
inline std::string describe_message(const BackendMessage& m) {
    std::string line(1, m.type);
    if (m.type == 'C') line += " " + m.body.substr(0, m.body.find('\0'));
    if (m.type == 'E') {
        for (std::size_t i = 0; i < m.body.size() && m.body[i] != '\0';) {
            std::size_t end = m.body.find('\0', i + 1);
            char code = m.body[i];
            if (code == 'C' || code == 'M') line += " " + m.body.substr(i + 1, end - i - 1);
            i = end + 1;
        }
    }
    if (m.type == 'Z') line += " " + m.body;
    return line;
}

inline RawClient login(std::uint16_t port) {
    RawClient client = RawClient::connect(port, soon());
    client.send_all(startup_packet("postgres", "app"));
    for (;;) {
        auto message = client.read_message(soon());
        REQUIRE(message);
        if (message->type == 'Z') break;
    }
    return client;
}

// Sends `bytes` at once and reads until `readies` ReadyForQuery (or the deadline). Row data,
// settings and notices are left out.
inline std::string pipelined(RawClient& client, const std::string& bytes, int readies,
                             Deadline deadline) {
    client.send_all(bytes);
    std::string transcript;
    while (readies > 0) {
        auto message = client.read_message(deadline);
        if (!message) return transcript + "(timed out or closed)\n";
        if (message->type == 'S' || message->type == 'N') continue;
        transcript += describe_message(*message) + "\n";
        if (message->type == 'Z') --readies;
    }
    return transcript;
}

// Bytes sent at once, and how many ReadyForQuery answer them; kUntilError: the first
// ErrorResponse does (the Sync that ends its skip is still to be sent).
using Steps = std::vector<std::pair<std::string, int>>;
constexpr int kUntilError = 0;

inline std::string hex(const std::string& bytes) {
    std::string out;
    char digits[3];
    for (unsigned char c : bytes) {
        std::snprintf(digits, sizeof digits, "%02x", c);
        out += digits;
    }
    return out;
}

// Sends `bytes` and writes what came back until `readies` ReadyForQuery (kUntilError: the
// first ErrorResponse), one message a line: errors and notices with every field (position,
// routine...), descriptions and rows with their bytes.
inline std::string exchange(RawClient& client, const std::string& bytes, int readies) {
    client.send_all(bytes);
    std::string transcript;
    bool until_error = readies == kUntilError;
    while (readies > 0 || until_error) {
        auto message = client.read_message(soon());
        if (!message) return transcript + "(timed out or closed)\n";
        if (message->type == 'S') continue;
        if (message->type == 'E' || message->type == 'N') {
            transcript += message->type;
            for (char c : message->body)
                transcript += c == '\0' ? '|' : c;
        } else {
            transcript += describe_message(*message);
        }
        if (message->type == 't' || message->type == 'T' || message->type == 'D') {
            transcript += " " + hex(message->body);
        }
        transcript += "\n";
        if (message->type == 'Z') --readies;
        if (message->type == 'E' && until_error) break;
    }
    return transcript;
}

// The values of each row of a simple Query, joined by '|'.
inline std::vector<std::string> query_rows(RawClient& client, const std::string& sql) {
    client.send_all(fe::query(sql));
    std::vector<std::string> rows;
    for (;;) {
        auto message = client.read_message(soon());
        REQUIRE(message);
        if (message->type == 'Z') return rows;
        REQUIRE(message->type != 'E');
        if (message->type != 'D') continue;
        const std::string& b = message->body;
        auto byte = [&](std::size_t at) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at]));
        };
        int columns = static_cast<int>((byte(0) << 8) | byte(1));
        std::size_t at = 2;
        std::string row;
        for (int i = 0; i < columns; ++i) {
            std::uint32_t length =
                (byte(at) << 24) | (byte(at + 1) << 16) | (byte(at + 2) << 8) | byte(at + 3);
            at += 4;
            if (i > 0) row += "|";
            if (length == 0xFFFFFFFF) {
                row += "NULL";
            } else {
                row += b.substr(at, length);
                at += length;
            }
        }
        rows.push_back(row);
    }
}

}  // namespace pgrev::it::audit_it
