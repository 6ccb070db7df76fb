// lex_sql on arbitrary text: no read outside the text (ASan sees the input's exact buffer),
// tokens in order, apart and inside the text, parentheses matched as a stack would match them,
// and every token boundary where PostgreSQL's own scanner (libpg_query's pg_query_scan) puts
// it.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "audit/sql_lexer.h"
#include "tests/audit/pg_scanner.h"

using namespace pgrev::audit;

namespace {
[[noreturn]] void fail(const char* what, std::size_t token) {
    std::fprintf(stderr, "fuzz_sql_lexer: invariant failed at token %zu: %s\n", token, what);
    std::abort();
}
#define CHECK(cond, token)               \
    do {                                 \
        if (!(cond)) fail(#cond, token); \
    } while (false)

// PostgreSQL's {space}: no \v.
bool space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

// Between tokens there is only white space and comments.
bool only_space_and_comments(std::string_view gap) {
    std::size_t i = 0;
    while (i < gap.size() && space(gap[i]))
        ++i;
    if (i == gap.size()) return true;
    return gap.substr(i, 2) == "--" || gap.substr(i, 2) == "/*";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    std::vector<Token> tokens = lex_sql(text);

    std::vector<std::size_t> open_stack;
    std::vector<std::size_t> match(tokens.size(), tokens.size());
    std::size_t previous_end = 0;
    int depth = 0;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const Token& t = tokens[i];
        CHECK(t.begin < t.end, i);
        CHECK(t.end <= text.size(), i);
        CHECK(t.begin >= previous_end, i);
        CHECK(only_space_and_comments(text.substr(previous_end, t.begin - previous_end)), i);
        previous_end = t.end;
        std::string_view s = text.substr(t.begin, t.end - t.begin);
        unsigned char c = static_cast<unsigned char>(s[0]);
        switch (t.kind) {
            case TokenKind::OpenParen:
                CHECK(s == "(", i);
                break;
            case TokenKind::CloseParen:
                CHECK(s == ")", i);
                break;
            case TokenKind::Comma:
                CHECK(s == ",", i);
                break;
            case TokenKind::Semicolon:
                CHECK(s == ";", i);
                break;
            case TokenKind::Word:
                CHECK(std::isalpha(c) || c == '_' || c >= 0x80, i);
                break;
            case TokenKind::Number:
                CHECK(std::isdigit(c) || c == '.', i);
                break;
            case TokenKind::Parameter:
                CHECK(c == '$' && s.size() >= 2, i);
                break;
            case TokenKind::QuotedIdentifier:
                CHECK(s.back() == '"' && s.size() >= 2, i);
                CHECK(c == '"' || ((c == 'u' || c == 'U') && s.substr(1, 2) == "&\""), i);
                break;
            case TokenKind::String:
                CHECK(c == '\'' || c == '$' || s.substr(1, 1) == "'" || s.substr(1, 2) == "&'", i);
                break;
            case TokenKind::Other:
                break;
        }
        // Depth: an OpenParen has the outer depth, its CloseParen the same.
        if (t.kind == TokenKind::CloseParen && depth > 0) --depth;
        CHECK(t.depth == depth, i);
        if (t.kind == TokenKind::OpenParen) {
            ++depth;
            open_stack.push_back(i);
        } else if (t.kind == TokenKind::CloseParen && !open_stack.empty()) {
            match[open_stack.back()] = i;
            open_stack.pop_back();
        }
        (void)t.is_word(text, "select");
        (void)t.is_word(text, "returning");
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        std::size_t m = matching_paren(tokens, i);
        if (tokens[i].kind != TokenKind::OpenParen) {
            CHECK(m == tokens.size(), i);
            continue;
        }
        CHECK(m == match[i], i);
        if (i > 512) break;  // quadratic: the first ones are enough
    }
    // token_at: the first token that starts at or after the offset.
    for (std::size_t offset : {std::size_t{0}, size / 3, size / 2, size, size + 1}) {
        std::size_t i = token_at(tokens, offset);
        CHECK(i <= tokens.size(), i);
        CHECK(i == tokens.size() || tokens[i].begin >= offset, i);
        CHECK(i == 0 || tokens[i - 1].begin < offset, i);
    }
    std::string quoted = quote_identifier(text.substr(0, 64));
    CHECK(quoted.size() >= 2 && quoted.front() == '"' && quoted.back() == '"', 0);

    auto compared = pgrev::testing::compare_with_pg_scanner(text);
    if (!compared.mismatch.empty()) {
        std::fprintf(stderr, "fuzz_sql_lexer: pgrev and PostgreSQL's scanner differ: %s\n",
                     compared.mismatch.c_str());
        std::abort();
    }
    return 0;
}
