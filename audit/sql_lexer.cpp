#include "audit/sql_lexer.h"

#include <cctype>
#include <cstring>

namespace pgrev::audit {

namespace {

bool is_ident_start(unsigned char c) {
    return std::isalpha(c) || c == '_' || c >= 0x80;
}
bool is_ident_char(unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

// Position after a quoted run starting at `i` (on the opening quote). `backslash` allows \'
// escapes (E'' strings). A doubled quote is an escaped quote.
std::size_t skip_quoted(std::string_view s, std::size_t i, char quote, bool backslash) {
    ++i;
    while (i < s.size()) {
        char c = s[i];
        if (backslash && c == '\\') {
            i += 2;
            continue;
        }
        if (c == quote) {
            if (i + 1 < s.size() && s[i + 1] == quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        ++i;
    }
    return std::string_view::npos;
}

// $tag$ ... $tag$ starting at `i` on the first '$'; npos when `i` is not a dollar quote start.
std::size_t skip_dollar_quoted(std::string_view s, std::size_t i) {
    std::size_t j = i + 1;
    if (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])))
        return std::string_view::npos;
    while (j < s.size() && s[j] != '$') {
        unsigned char c = static_cast<unsigned char>(s[j]);
        if (!(std::isalnum(c) || c == '_' || c >= 0x80)) return std::string_view::npos;
        ++j;
    }
    if (j >= s.size()) return std::string_view::npos;
    std::string_view tag = s.substr(i, j - i + 1);
    std::size_t close = s.find(tag, j + 1);
    if (close == std::string_view::npos) return s.size();  // unterminated: swallow the rest
    return close + tag.size();
}

}  // namespace

bool Token::is_word(std::string_view text, std::string_view lower_keyword) const {
    if (kind != TokenKind::Word || end - begin != lower_keyword.size()) return false;
    for (std::size_t i = 0; i < lower_keyword.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(text[begin + i])) != lower_keyword[i]) {
            return false;
        }
    }
    return true;
}

std::vector<Token> lex_sql(std::string_view s) {
    std::vector<Token> out;
    int depth = 0;
    std::size_t i = 0;
    auto push = [&](TokenKind kind, std::size_t begin, std::size_t end) {
        out.push_back(Token{kind, begin, end, depth});
    };
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (std::isspace(c)) {
            ++i;
            continue;
        }
        if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
            std::size_t nl = s.find('\n', i);
            i = nl == std::string_view::npos ? s.size() : nl + 1;
            continue;
        }
        if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
            // Block comments nest in PostgreSQL.
            int nesting = 1;
            i += 2;
            while (i < s.size() && nesting > 0) {
                if (s[i] == '/' && i + 1 < s.size() && s[i + 1] == '*') {
                    ++nesting;
                    i += 2;
                } else if (s[i] == '*' && i + 1 < s.size() && s[i + 1] == '/') {
                    --nesting;
                    i += 2;
                } else {
                    ++i;
                }
            }
            continue;
        }
        std::size_t begin = i;
        // Prefixed strings and identifiers: E'..', B'..', X'..', N'..', U&'..', U&"..".
        if ((c == 'e' || c == 'E') && i + 1 < s.size() && s[i + 1] == '\'') {
            std::size_t end = skip_quoted(s, i + 1, '\'', true);
            if (end == std::string_view::npos) return out;
            push(TokenKind::String, begin, end);
            i = end;
            continue;
        }
        if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N') &&
            i + 1 < s.size() && s[i + 1] == '\'') {
            std::size_t end = skip_quoted(s, i + 1, '\'', false);
            if (end == std::string_view::npos) return out;
            push(TokenKind::String, begin, end);
            i = end;
            continue;
        }
        if ((c == 'u' || c == 'U') && i + 2 < s.size() && s[i + 1] == '&' &&
            (s[i + 2] == '\'' || s[i + 2] == '"')) {
            char quote = s[i + 2];
            std::size_t end = skip_quoted(s, i + 2, quote, false);
            if (end == std::string_view::npos) return out;
            push(quote == '"' ? TokenKind::QuotedIdentifier : TokenKind::String, begin, end);
            i = end;
            continue;
        }
        if (is_ident_start(c)) {
            while (i < s.size() && is_ident_char(static_cast<unsigned char>(s[i])))
                ++i;
            push(TokenKind::Word, begin, i);
            continue;
        }
        if (std::isdigit(c) ||
            (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
            while (i < s.size() &&
                   (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '_')) {
                // An exponent sign belongs to the number: 1e-5.
                if ((s[i] == 'e' || s[i] == 'E') && i + 1 < s.size() &&
                    (s[i + 1] == '+' || s[i + 1] == '-')) {
                    ++i;
                }
                ++i;
            }
            push(TokenKind::Number, begin, i);
            continue;
        }
        switch (c) {
            case '\'': {
                std::size_t end = skip_quoted(s, i, '\'', false);
                if (end == std::string_view::npos) return out;
                push(TokenKind::String, begin, end);
                i = end;
                continue;
            }
            case '"': {
                std::size_t end = skip_quoted(s, i, '"', false);
                if (end == std::string_view::npos) return out;
                push(TokenKind::QuotedIdentifier, begin, end);
                i = end;
                continue;
            }
            case '$': {
                if (i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1]))) {
                    ++i;
                    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
                        ++i;
                    push(TokenKind::Parameter, begin, i);
                    continue;
                }
                std::size_t end = skip_dollar_quoted(s, i);
                if (end != std::string_view::npos) {
                    push(TokenKind::String, begin, end);
                    i = end;
                    continue;
                }
                ++i;
                push(TokenKind::Other, begin, i);
                continue;
            }
            case '(':
                push(TokenKind::OpenParen, begin, i + 1);
                ++depth;
                ++i;
                continue;
            case ')':
                if (depth > 0) --depth;
                push(TokenKind::CloseParen, begin, i + 1);
                ++i;
                continue;
            case ',':
                push(TokenKind::Comma, begin, ++i);
                continue;
            case ';':
                push(TokenKind::Semicolon, begin, ++i);
                continue;
            default:
                push(TokenKind::Other, begin, ++i);
                continue;
        }
    }
    return out;
}

std::size_t token_at(const std::vector<Token>& tokens, std::size_t offset) {
    std::size_t lo = 0, hi = tokens.size();
    while (lo < hi) {
        std::size_t mid = (lo + hi) / 2;
        if (tokens[mid].begin < offset) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

std::size_t matching_paren(const std::vector<Token>& tokens, std::size_t open) {
    if (open >= tokens.size() || tokens[open].kind != TokenKind::OpenParen) return tokens.size();
    int depth = tokens[open].depth;
    for (std::size_t i = open + 1; i < tokens.size(); ++i) {
        if (tokens[i].kind == TokenKind::CloseParen && tokens[i].depth == depth) return i;
    }
    return tokens.size();
}

std::string quote_identifier(std::string_view name) {
    std::string out;
    out.reserve(name.size() + 2);
    out.push_back('"');
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

}  // namespace pgrev::audit
