// Byte sequences libpq will not send (pipelined simple Queries, named portals), sent directly
// and through pgrev, with what came back written one message a line.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "audit_support.h"
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

}  // namespace pgrev::it::audit_it
