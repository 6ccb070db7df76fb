#include "result_text.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <regex>
#include <sstream>

namespace pgrev::it {

namespace {

std::string hex(const char* bytes, int length) {
    static const char digits[] = "0123456789abcdef";
    std::string text = "\\x";
    for (int i = 0; i < length; ++i) {
        auto byte = static_cast<unsigned char>(bytes[i]);
        text += digits[byte >> 4];
        text += digits[byte & 0xf];
    }
    return text;
}

void add_field(std::ostringstream& text, const PGresult* result, int code, const char* name) {
    const char* value = PQresultErrorField(result, code);
    if (value == nullptr) return;
    // Each backend has its own temporary schema; the number says which backend, not what.
    static const std::regex temp_schema("^pg_temp_[0-9]+$");
    text << "  " << name << ": " << std::regex_replace(value, temp_schema, "pg_temp_N") << "\n";
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

}  // namespace

std::string describe_result(const PGresult* result) {
    std::ostringstream text;
    if (result == nullptr) return "(no result)\n";
    ExecStatusType status = PQresultStatus(result);
    text << PQresStatus(status) << " tag=\"" << PQcmdStatus(const_cast<PGresult*>(result))
         << "\" tuples=\"" << PQcmdTuples(const_cast<PGresult*>(result)) << "\"\n";
    int columns = PQnfields(result);
    for (int c = 0; c < columns; ++c) {
        const char* name = PQfname(result, c);  // COPY results have unnamed columns
        text << "  column " << (name != nullptr ? name : "-") << " type=" << PQftype(result, c)
             << " typmod=" << PQfmod(result, c) << " format=" << PQfformat(result, c) << "\n";
    }
    for (int r = 0; r < PQntuples(result); ++r) {
        text << "  row";
        for (int c = 0; c < columns; ++c) {
            if (PQgetisnull(result, r, c)) {
                text << " NULL";
            } else if (PQfformat(result, c) == 1) {
                text << " " << hex(PQgetvalue(result, r, c), PQgetlength(result, r, c));
            } else {
                text << " '" << PQgetvalue(result, r, c) << "'";
            }
        }
        text << "\n";
    }
    if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR) {
        add_field(text, result, PG_DIAG_SQLSTATE, "sqlstate");
        add_field(text, result, PG_DIAG_SEVERITY_NONLOCALIZED, "severity");
        add_field(text, result, PG_DIAG_MESSAGE_PRIMARY, "message");
        add_field(text, result, PG_DIAG_MESSAGE_DETAIL, "detail");
        add_field(text, result, PG_DIAG_MESSAGE_HINT, "hint");
        add_field(text, result, PG_DIAG_STATEMENT_POSITION, "position");
        add_field(text, result, PG_DIAG_INTERNAL_POSITION, "internal position");
        add_field(text, result, PG_DIAG_INTERNAL_QUERY, "internal query");
        add_field(text, result, PG_DIAG_CONTEXT, "context");
        add_field(text, result, PG_DIAG_SCHEMA_NAME, "schema");
        add_field(text, result, PG_DIAG_TABLE_NAME, "table");
        add_field(text, result, PG_DIAG_COLUMN_NAME, "column");
        add_field(text, result, PG_DIAG_CONSTRAINT_NAME, "constraint");
        if (PQresultErrorField(result, PG_DIAG_SQLSTATE) == nullptr) {
            // Made by libpq itself (e.g. lost connection): only the message says what happened.
            text << "  libpq: " << mask_ports(PQresultErrorMessage(result)) << "\n";
        }
    }
    return text.str();
}

std::string mask_ports(const std::string& text) {
    static const std::regex port("port [0-9]+");
    return std::regex_replace(text, port, "port <PORT>");
}

std::string first_difference(const std::string& expected, const std::string& actual) {
    if (expected == actual) return "";
    std::vector<std::string> left = lines_of(expected);
    std::vector<std::string> right = lines_of(actual);
    std::size_t n = std::max(left.size(), right.size());
    for (std::size_t i = 0; i < n; ++i) {
        std::string a = i < left.size() ? left[i] : "(end)";
        std::string b = i < right.size() ? right[i] : "(end)";
        if (a != b) {
            return "line " + std::to_string(i + 1) + ":\n  direct:  " + a + "\n  proxied: " + b;
        }
    }
    return "texts differ only in a trailing newline";
}

void check_same(const std::string& story, const std::string& direct, const std::string& proxied) {
    std::string difference = first_difference(direct, proxied);
    if (difference.empty()) return;
    const std::size_t kShown = 4000;
    std::string shown_direct = direct.substr(0, kShown);
    std::string shown_proxied = proxied.substr(0, kShown);
    FAIL_CHECK(story << ": direct and proxied answers differ at " << difference
                     << "\n--- direct ---\n"
                     << shown_direct << "\n--- proxied ---\n"
                     << shown_proxied);
}

}  // namespace pgrev::it
