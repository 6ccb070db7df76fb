// A lexer for PostgreSQL's SQL that places every token boundary where the server's scanner
// (PostgreSQL 15's scan.l) does, so the rewriter can find keywords (RETURNING, AS, the DML
// verb), statement ends and matching parentheses that the parse tree gives no location for.
// Strings (with their continuations), quoted identifiers, dollar quotes and comments are
// skipped whole, so text inside them is never mistaken for SQL; operators are cut as the
// server cuts them. tests/audit/sql_lexer_test.cpp and fuzz/fuzz_sql_lexer.cpp compare it
// with libpg_query's copy of the scanner. Assumes standard_conforming_strings = on, as
// libpg_query does.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

enum class TokenKind {
    Word,              // keyword or unquoted identifier
    QuotedIdentifier,  // "..." or U&"..."
    String,            // '...', E'...', B'...', X'...', U&'...', $tag$...$tag$
    Number,
    Parameter,  // $1
    OpenParen,
    CloseParen,
    Comma,
    Semicolon,
    Other,    // operators ("+", "<=", "::", "@-") and the rest
    Comment,  // "-- ..." (without its newline) or "/* ... */", only from lex_sql_with_comments
};

struct Token {
    TokenKind kind;
    std::size_t begin;  // byte offsets into the text
    std::size_t end;
    int depth;  // parenthesis depth at the token (an OpenParen has the outer depth)

    // Case-insensitive comparison for words; `lower_keyword` must be lower case.
    bool is_word(std::string_view text, std::string_view lower_keyword) const;
};

// Tokens of `text`, comments and white space left out. An unterminated string or comment ends
// the list there (the parser will have refused such text already).
std::vector<Token> lex_sql(std::string_view text);

// The tokens of `text` with its comments among them (TokenKind::Comment). `complete` is set
// to whether the tokens reach the end of the text (false when a quoted string or identifier or
// a block comment is unterminated; an unterminated dollar quote is one token to the end).
std::vector<Token> lex_sql_with_comments(std::string_view text, bool& complete);

// True when the server continues a string literal across a `--` comment ('a' --c<LF> 'b' is
// 'ab'). libpg_query's scanner does not, so its parser reads such a text differently from the
// server: a syntax error for it may be a valid statement for the server.
bool continues_string_across_comment(std::string_view text);

// Whether `text` reads the same whatever standard_conforming_strings is: that setting only
// changes what a backslash means inside a plain '...' string (and N'...', whose string is one),
// and the two readings agree up to the first such backslash. A backslash in an E'' string, a
// dollar quote or a quoted identifier means the same either way (a U&'' string is an error
// with the setting off, so nothing runs); one anywhere else (a comment, unterminated text) is
// taken to matter.
bool backslashes_read_the_same(std::string_view text);

// Index of the first token starting at or after `offset`, or tokens.size().
std::size_t token_at(const std::vector<Token>& tokens, std::size_t offset);

// Index of the CloseParen matching the OpenParen at `open`, or tokens.size().
std::size_t matching_paren(const std::vector<Token>& tokens, std::size_t open);

// "name" with embedded quotes doubled: always quoted, which is always correct.
std::string quote_identifier(std::string_view name);

}  // namespace pgrev::audit
