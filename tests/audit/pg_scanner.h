// PostgreSQL's own scanner (libpg_query's pg_query_scan, the core scanner of PostgreSQL 15's
// scan.l) as a reference for pgrev's lexer: the tests and fuzz/fuzz_sql_lexer.cpp compare
// token boundaries with it. pg_query_scan answers a protobuf ScanResult (pg_query.proto):
// decoded here by hand, a few varints, so the tests need no protobuf-c headers.
#pragma once

#include <pg_query.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/sql_lexer.h"

namespace pgrev::testing {

struct PgToken {
    std::size_t begin = 0;
    std::size_t end = 0;
    int token = 0;  // pg_query.proto's Token: a character code, or 258 (IDENT) and up
    bool comment() const { return token == kSqlComment || token == kCComment; }
    static constexpr int kSqlComment = 275;
    static constexpr int kCComment = 276;
};

namespace detail {

// A varint at `p`; false when the buffer ends first.
inline bool read_varint(const std::uint8_t*& p, const std::uint8_t* end, std::uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
        std::uint8_t b = *p++;
        out |= std::uint64_t{b & 0x7Fu} << shift;
        if ((b & 0x80) == 0) return true;
    }
    return false;
}

// Fields of one message: varints go to `on_varint(field, value)`, length-delimited fields
// to `on_bytes(field, begin, end)`. False on anything malformed.
template <typename OnVarint, typename OnBytes>
bool read_message(const std::uint8_t* p, const std::uint8_t* end, OnVarint on_varint,
                  OnBytes on_bytes) {
    while (p < end) {
        std::uint64_t key = 0;
        if (!read_varint(p, end, key)) return false;
        std::uint64_t field = key >> 3;
        switch (key & 7) {
            case 0: {
                std::uint64_t v = 0;
                if (!read_varint(p, end, v)) return false;
                on_varint(field, v);
                break;
            }
            case 2: {
                std::uint64_t len = 0;
                if (!read_varint(p, end, len) || len > std::uint64_t(end - p)) return false;
                on_bytes(field, p, p + len);
                p += len;
                break;
            }
            default:
                return false;  // ScanResult has no other wire types
        }
    }
    return true;
}

}  // namespace detail

// PostgreSQL's tokens of `sql` (up to its first NUL, as the scanner reads a C string),
// comments included; nullopt when the scanner reports an error (unterminated quote, trailing
// junk after a number, ...).
inline std::optional<std::vector<PgToken>> pg_scan(std::string_view sql) {
    std::string text(sql.substr(0, sql.find('\0')));
    PgQueryScanResult r = pg_query_scan(text.c_str());
    if (r.error != nullptr) {
        pg_query_free_scan_result(r);
        return std::nullopt;
    }
    std::vector<PgToken> tokens;
    const auto* data = reinterpret_cast<const std::uint8_t*>(r.pbuf.data);
    bool ok = detail::read_message(
        data, data + r.pbuf.len, [](std::uint64_t, std::uint64_t) {},
        [&](std::uint64_t field, const std::uint8_t* b, const std::uint8_t* e) {
            if (field != 2) return;  // 2: repeated ScanToken tokens
            PgToken t;
            detail::read_message(
                b, e,
                [&](std::uint64_t f, std::uint64_t v) {
                    if (f == 1) t.begin = v;
                    if (f == 2) t.end = v;
                    if (f == 4) t.token = static_cast<int>(v);
                },
                [](std::uint64_t, const std::uint8_t*, const std::uint8_t*) {});
            tokens.push_back(t);
        });
    pg_query_free_scan_result(r);
    if (!ok) return std::nullopt;
    return tokens;
}

struct LexerComparison {
    bool compared = false;  // false: the scanner refused the text, or reads it differently
    std::string mismatch;   // empty when pgrev's tokens are the scanner's
};

// pgrev's lex_sql against PostgreSQL's scanner on `sql` (up to its first NUL): the same
// tokens, each with the same begin and end. The scanner's own end offsets are not reliable
// for every token (U&"x" is reported one byte long): a token ends where the white space
// before the next token (a comment is a token here) or the text's end begins.
inline LexerComparison compare_with_pg_scanner(std::string_view sql) {
    LexerComparison out;
    std::string_view text = sql.substr(0, sql.find('\0'));
    auto reference = pg_scan(text);
    // A string continued across a comment: libpg_query's known departure from the server.
    if (!reference || audit::continues_string_across_comment(text)) return out;
    out.compared = true;
    auto is_space = [](char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
    };
    std::vector<std::pair<std::size_t, std::size_t>> expected;
    for (std::size_t k = 0; k < reference->size(); ++k) {
        const PgToken& t = (*reference)[k];
        if (t.comment()) continue;
        std::size_t end = k + 1 < reference->size() ? (*reference)[k + 1].begin : text.size();
        while (end > t.begin + 1 && is_space(text[end - 1]))
            --end;
        expected.emplace_back(t.begin, end);
    }
    std::vector<audit::Token> tokens = audit::lex_sql(text);
    auto show = [&](std::size_t b, std::size_t e) {
        return "[" + std::to_string(b) + "," + std::to_string(e) + ") \"" +
               std::string(text.substr(b, std::min<std::size_t>(e - b, 40))) + "\"";
    };
    for (std::size_t k = 0; k < std::max(expected.size(), tokens.size()); ++k) {
        if (k >= tokens.size()) {
            out.mismatch = "pgrev has no token for " + show(expected[k].first, expected[k].second);
        } else if (k >= expected.size()) {
            out.mismatch = "PostgreSQL has no token for " + show(tokens[k].begin, tokens[k].end);
        } else if (tokens[k].begin != expected[k].first || tokens[k].end != expected[k].second) {
            out.mismatch = "token " + std::to_string(k) + ": pgrev " +
                           show(tokens[k].begin, tokens[k].end) + ", PostgreSQL " +
                           show(expected[k].first, expected[k].second);
        }
        if (!out.mismatch.empty()) break;
    }
    return out;
}

}  // namespace pgrev::testing
