#include "audit/sql_lexer.h"

#include <algorithm>

#include "config/text.h"

namespace pgrev::audit {

// The character classes and rules below are those of PostgreSQL 15's scanner
// (src/backend/parser/scan.l), which the server uses to read every statement. pgrev's token
// boundaries must be the server's: a comment, string or statement end that pgrev places
// elsewhere moves text into or out of the statement pgrev rewrites.
namespace {

// {space}: not \v, which the server reads as a character of its own (std::isspace does not).
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}
// {newline}: a `--` comment ends at either.
bool is_newline(char c) {
    return c == '\n' || c == '\r';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
// {ident_start}: ASCII letters, '_' and every byte over 0x7F (locale-independent).
bool is_ident_start(char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || u == '_' || u >= 0x80;
}
// {ident_cont}
bool is_ident_cont(char c) {
    return is_ident_start(c) || is_digit(c) || c == '$';
}
// {dolq_cont}: a dollar quote's tag has no '$' of its own.
bool is_tag_cont(char c) {
    return is_ident_start(c) || is_digit(c);
}
// {op_chars}
bool is_op_char(char c) {
    switch (c) {
        case '~':
        case '!':
        case '@':
        case '#':
        case '^':
        case '&':
        case '|':
        case '`':
        case '?':
        case '+':
        case '-':
        case '*':
        case '/':
        case '%':
        case '<':
        case '>':
        case '=':
            return true;
        default:
            return false;
    }
}

enum class Quoted {
    Standard,  // '...' and U&'...': '' is a quote
    Escape,    // E'...': also backslash escapes
    Bits,      // B'...' and X'...': no escapes at all, not even ''
};

constexpr std::size_t npos = std::string_view::npos;

class Scanner {
  public:
    explicit Scanner(std::string_view s, bool keep_comments = false)
        : s_(s), keep_comments_(keep_comments) {}

    std::vector<Token> run();
    bool continued_across_comment() const { return continued_across_comment_; }
    bool complete() const { return complete_; }

  private:
    bool at(std::size_t i, char c) const { return i < s_.size() && s_[i] == c; }
    bool at(std::size_t i, char a, char b) const { return at(i, a) && at(i + 1, b); }

    // `--` to just before the next newline (or the end).
    std::size_t line_comment_end(std::size_t i) const {
        while (i < s_.size() && !is_newline(s_[i]))
            ++i;
        return i;
    }
    std::size_t block_comment_end(std::size_t i) const;
    std::size_t string_end(std::size_t quote, Quoted mode);
    std::size_t continuation(std::size_t after);
    std::size_t dollar_quote_end(std::size_t i) const;
    std::size_t number_end(std::size_t i) const;
    std::size_t operator_end(std::size_t i) const;

    void push(TokenKind kind, std::size_t begin, std::size_t end) {
        if (kind == TokenKind::CloseParen && depth_ > 0) --depth_;
        tokens_.push_back(Token{kind, begin, end, depth_});
        if (kind == TokenKind::OpenParen) ++depth_;
    }

    std::string_view s_;
    bool keep_comments_;
    std::vector<Token> tokens_;
    int depth_ = 0;
    bool continued_across_comment_ = false;
    bool complete_ = true;
};

// A `/*` comment at `i`, ended by the `*/` that closes it: comments nest. npos when
// unterminated.
std::size_t Scanner::block_comment_end(std::size_t i) const {
    int nesting = 1;
    i += 2;
    while (i < s_.size()) {
        if (at(i, '/', '*')) {
            ++nesting;
            i += 2;
        } else if (at(i, '*', '/')) {
            i += 2;
            if (--nesting == 0) return i;
        } else {
            ++i;
        }
    }
    return npos;
}

// After a string's closing quote at `after - 1`: the server continues the string when white
// space holding a newline, then another quote, follows ({quotecontinue}: 'a'<LF>'b' is 'ab').
// `--` comments count as white space there. Returns the position after the next opening
// quote, or npos when the string ends here.
std::size_t Scanner::continuation(std::size_t after) {
    std::size_t i = after;
    bool newline = false;
    bool comment = false;
    while (i < s_.size()) {
        if (is_space(s_[i])) {
            newline = newline || is_newline(s_[i]);
            ++i;
        } else if (at(i, '-', '-')) {
            comment = true;
            i = line_comment_end(i);
        } else {
            break;
        }
    }
    if (!newline || !at(i, '\'')) return npos;
    // libpg_query's scanner (patched to return comments as tokens) does not continue across
    // a comment: its parser then reads the text differently from the server.
    continued_across_comment_ = continued_across_comment_ || comment;
    return i + 1;
}

// A quoted string whose opening quote is at `quote`, continuations included: the position
// after its last closing quote, or npos when unterminated.
std::size_t Scanner::string_end(std::size_t quote, Quoted mode) {
    std::size_t i = quote + 1;
    while (i < s_.size()) {
        char c = s_[i];
        if (c == '\\' && mode == Quoted::Escape) {
            i += 2;  // any escape, \' and \\ included, is at least two bytes
            continue;
        }
        if (c != '\'') {
            ++i;
            continue;
        }
        if (mode != Quoted::Bits && at(i + 1, '\'')) {
            i += 2;
            continue;
        }
        std::size_t next = continuation(i + 1);
        if (next == npos) return i + 1;
        i = next;
    }
    return npos;
}

// A dollar quote at `i` ($tag$...$tag$): its end, s_.size() when unterminated, npos when
// `i` does not start one.
std::size_t Scanner::dollar_quote_end(std::size_t i) const {
    std::size_t j = i + 1;
    if (j < s_.size() && is_ident_start(s_[j])) {
        while (j < s_.size() && is_tag_cont(s_[j]))
            ++j;
    }
    if (!at(j, '$')) return npos;
    std::string_view tag = s_.substr(i, j - i + 1);
    std::size_t close = s_.find(tag, j + 1);
    return close == npos ? s_.size() : close + tag.size();
}

// {integer}, {decimal} or {real} at `i`. "1..2" is 1, "..", 2 ({decimalfail}). Trailing
// junk ("1x", "1e+") is an error for the server; the token ends before it.
std::size_t Scanner::number_end(std::size_t i) const {
    while (i < s_.size() && is_digit(s_[i]))
        ++i;
    if (at(i, '.') && !at(i + 1, '.')) {
        ++i;
        while (i < s_.size() && is_digit(s_[i]))
            ++i;
    }
    if (at(i, 'e') || at(i, 'E')) {
        std::size_t j = i + 1;
        if (at(j, '+') || at(j, '-')) ++j;
        if (j < s_.size() && is_digit(s_[j])) {
            while (j < s_.size() && is_digit(s_[j]))
                ++j;
            return j;
        }
    }
    return i;
}

// {operator} at `i` (which does not start a comment), cut as the server cuts it: before an
// embedded `--` or `/*`, and without trailing '+'/'-' unless it holds a character that no
// SQL operator has ("=-" is "=" and "-", "@-" is one operator).
std::size_t Scanner::operator_end(std::size_t i) const {
    std::size_t end = i;
    while (end < s_.size() && is_op_char(s_[end]))
        ++end;
    for (std::size_t k = i + 1; k + 1 < end; ++k) {
        if (at(k, '-', '-') || at(k, '/', '*')) {
            end = k;
            break;
        }
    }
    std::size_t n = end - i;
    if (n > 1 && (s_[end - 1] == '+' || s_[end - 1] == '-')) {
        bool unusual = false;
        for (std::size_t k = i; k + 1 < end; ++k) {
            switch (s_[k]) {
                case '~':
                case '!':
                case '@':
                case '#':
                case '^':
                case '&':
                case '|':
                case '`':
                case '?':
                case '%':
                    unusual = true;
                    break;
                default:
                    break;
            }
        }
        if (!unusual) {
            do {
                --n;
            } while (n > 1 && (s_[i + n - 1] == '+' || s_[i + n - 1] == '-'));
        }
    }
    return i + n;
}

std::vector<Token> Scanner::run() {
    // About a token per 6 bytes in SQL as ORMs write it: one allocation, not a chain of growths
    // (each a copy) for every statement planned. Huge texts grow past the bound as usual.
    tokens_.reserve(std::min<std::size_t>(s_.size() / 6 + 8, 4096));
    std::size_t i = 0;
    while (i < s_.size()) {
        char c = s_[i];
        if (is_space(c)) {
            ++i;
            continue;
        }
        if (at(i, '-', '-')) {
            std::size_t end = line_comment_end(i);
            if (keep_comments_) push(TokenKind::Comment, i, end);
            i = end;
            continue;
        }
        if (at(i, '/', '*')) {
            std::size_t end = block_comment_end(i);
            if (end == npos) {
                complete_ = false;
                break;
            }
            if (keep_comments_) push(TokenKind::Comment, i, end);
            i = end;
            continue;
        }
        std::size_t begin = i;
        std::size_t end = npos;
        TokenKind kind = TokenKind::String;
        char lower = config::lower_ascii(c);
        // Prefixed literals, only at a token's start: E'..', B'..', X'..', U&'..', U&"..".
        // N'..' is two tokens for the server (NCHAR and a string), as for pgrev.
        if (lower == 'e' && at(i + 1, '\'')) {
            end = string_end(i + 1, Quoted::Escape);
        } else if ((lower == 'b' || lower == 'x') && at(i + 1, '\'')) {
            end = string_end(i + 1, Quoted::Bits);
        } else if (lower == 'u' && at(i + 1, '&') && at(i + 2, '\'')) {
            end = string_end(i + 2, Quoted::Standard);
        } else if (lower == 'u' && at(i + 1, '&') && at(i + 2, '"')) {
            kind = TokenKind::QuotedIdentifier;
            std::size_t close = s_.find('"', i + 3);
            while (close != npos && at(close + 1, '"'))
                close = s_.find('"', close + 2);
            end = close == npos ? npos : close + 1;
        } else if (is_ident_start(c)) {
            end = i + 1;
            while (end < s_.size() && is_ident_cont(s_[end]))
                ++end;
            push(TokenKind::Word, begin, end);
            i = end;
            continue;
        } else if (is_digit(c) || (c == '.' && i + 1 < s_.size() && is_digit(s_[i + 1]))) {
            push(TokenKind::Number, begin, i = number_end(i));
            continue;
        } else if (c == '\'') {
            end = string_end(i, Quoted::Standard);
        } else if (c == '"') {
            kind = TokenKind::QuotedIdentifier;
            std::size_t close = s_.find('"', i + 1);
            while (close != npos && at(close + 1, '"'))
                close = s_.find('"', close + 2);
            end = close == npos ? npos : close + 1;
        } else if (c == '$') {
            if (i + 1 < s_.size() && is_digit(s_[i + 1])) {
                end = i + 1;
                while (end < s_.size() && is_digit(s_[end]))
                    ++end;
                push(TokenKind::Parameter, begin, i = end);
                continue;
            }
            end = dollar_quote_end(i);
            // Not a dollar quote ("$x ..."): the '$' alone is a token.
            if (end == npos) {
                kind = TokenKind::Other;
                end = i + 1;
            }
        } else if (is_op_char(c)) {
            push(TokenKind::Other, begin, i = operator_end(i));
            continue;
        } else {
            switch (c) {
                case '(':
                    kind = TokenKind::OpenParen;
                    break;
                case ')':
                    kind = TokenKind::CloseParen;
                    break;
                case ',':
                    kind = TokenKind::Comma;
                    break;
                case ';':
                    kind = TokenKind::Semicolon;
                    break;
                default:
                    kind = TokenKind::Other;
                    break;
            }
            end = i + 1;
            // "::", ":=" and ".." are tokens of two characters.
            if ((c == ':' && (at(i + 1, ':') || at(i + 1, '='))) || (c == '.' && at(i + 1, '.')))
                end = i + 2;
        }
        if (end == npos) {  // unterminated: the server refuses the text
            complete_ = false;
            break;
        }
        push(kind, begin, end);
        i = end;
    }
    return std::move(tokens_);
}

}  // namespace

bool Token::is_word(std::string_view text, std::string_view lower_keyword) const {
    if (kind != TokenKind::Word || end - begin != lower_keyword.size()) return false;
    for (std::size_t i = 0; i < lower_keyword.size(); ++i) {
        if (config::lower_ascii(text[begin + i]) != lower_keyword[i]) {
            return false;
        }
    }
    return true;
}

std::vector<Token> lex_sql(std::string_view text) {
    return Scanner(text).run();
}

std::vector<Token> lex_sql_with_comments(std::string_view text, bool& complete) {
    Scanner scanner(text, true);
    std::vector<Token> tokens = scanner.run();
    complete = scanner.complete();
    return tokens;
}

bool continues_string_across_comment(std::string_view text) {
    Scanner scanner(text);
    scanner.run();
    return scanner.continued_across_comment();
}

bool backslashes_read_the_same(std::string_view text) {
    std::size_t at = text.find('\\');
    if (at == std::string_view::npos) return true;
    std::vector<Token> tokens = lex_sql(text);
    for (; at != std::string_view::npos; at = text.find('\\', at + 1)) {
        std::size_t i = token_at(tokens, at + 1);  // the first token after it
        if (i == 0) return false;
        const Token& t = tokens[i - 1];
        if (at >= t.end) return false;  // between tokens: in a comment, or past the lexed text
        char first = text[t.begin];
        bool insensitive =
            t.kind == TokenKind::QuotedIdentifier || (t.kind == TokenKind::String && first != '\'');
        if (!insensitive) return false;
    }
    return true;
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
