#include "audit/code_names.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "audit/sql_lexer.h"
#include "config/text.h"

namespace pgrev::audit {

namespace {

// Strings inside strings inside the code deeper than this are not read: Doubtful.
constexpr int kMaxDepth = 16;
// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes.
constexpr std::size_t kMaxNameBytes = 63;

std::string truncated(std::string name) {
    if (name.size() <= kMaxNameBytes) return name;
    std::size_t n = kMaxNameBytes;
    // Not inside a UTF-8 sequence: back to the first byte of the cut character.
    while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80)
        --n;
    name.resize(n);
    return name;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    char l = config::lower_ascii(c);
    if (l >= 'a' && l <= 'f') return l - 'a' + 10;
    return -1;
}

// `n` hex digits at `at`; nullopt when they are not there.
std::optional<std::uint32_t> hex_digits(std::string_view s, std::size_t at, std::size_t n) {
    if (at + n > s.size()) return std::nullopt;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < n; ++k) {
        int d = hex_value(s[at + k]);
        if (d < 0) return std::nullopt;
        v = v * 16 + static_cast<std::uint32_t>(d);
    }
    return v;
}

// The text of a U&'...' or U&"..." body with `escape`: \XXXX, \+XXXXXX, surrogate pairs;
// nullopt when malformed (the server refuses it, but pgrev then cannot say what it names).
std::optional<std::string> decode_unicode(std::string_view s, char escape) {
    std::string out;
    std::uint32_t high = 0;  // a pending high surrogate
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != escape) {
            if (high != 0) return std::nullopt;
            out.push_back(s[i]);
            continue;
        }
        if (i + 1 < s.size() && s[i + 1] == escape) {
            out.push_back(escape);
            ++i;
            continue;
        }
        bool plus = i + 1 < s.size() && s[i + 1] == '+';
        auto cp = hex_digits(s, i + (plus ? 2 : 1), plus ? 6 : 4);
        if (!cp) return std::nullopt;
        i += plus ? 7 : 4;
        if (*cp >= 0xD800 && *cp <= 0xDBFF) {
            if (high != 0) return std::nullopt;
            high = *cp;
            continue;
        }
        if (*cp >= 0xDC00 && *cp <= 0xDFFF) {
            if (high == 0) return std::nullopt;
            *cp = 0x10000 + ((high - 0xD800) << 10) + (*cp - 0xDC00);
            high = 0;
        } else if (high != 0 || *cp == 0 || *cp > 0x10FFFF) {
            return std::nullopt;
        }
        append_utf8(out, *cp);
    }
    if (high != 0) return std::nullopt;
    return out;
}

// The text of an E'...' body: its backslash escapes read.
std::string decode_escapes(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 >= s.size()) {
            out.push_back(s[i]);
            continue;
        }
        char c = s[++i];
        switch (c) {
            case 'b':
                out.push_back('\b');
                continue;
            case 'f':
                out.push_back('\f');
                continue;
            case 'n':
                out.push_back('\n');
                continue;
            case 'r':
                out.push_back('\r');
                continue;
            case 't':
                out.push_back('\t');
                continue;
            default:
                break;
        }
        if (c >= '0' && c <= '7') {
            std::uint32_t v = 0;
            std::size_t k = 0;
            for (; k < 3 && i + k < s.size() && s[i + k] >= '0' && s[i + k] <= '7'; ++k)
                v = v * 8 + static_cast<std::uint32_t>(s[i + k] - '0');
            out.push_back(static_cast<char>(v & 0xFF));
            i += k - 1;
        } else if (c == 'x' && i + 1 < s.size() && hex_value(s[i + 1]) >= 0) {
            std::uint32_t v = static_cast<std::uint32_t>(hex_value(s[++i]));
            if (i + 1 < s.size() && hex_value(s[i + 1]) >= 0) {
                v = v * 16 + static_cast<std::uint32_t>(hex_value(s[++i]));
            }
            out.push_back(static_cast<char>(v));
        } else if (c == 'u' || c == 'U') {
            std::size_t n = c == 'u' ? 4 : 8;
            auto cp = hex_digits(s, i + 1, n);
            if (!cp || *cp > 0x10FFFF) {
                out.push_back(c);
                continue;
            }
            append_utf8(out, *cp);
            i += n;
        } else {
            out.push_back(c);  // \\, \' and any other character stand for themselves
        }
    }
    return out;
}

// The bodies of a quoted token `'...'` (continued across white space as `'a'<newline>'b'`),
// with the quote doubled inside each undone. `escapes`: a backslash also escapes the quote.
std::string quoted_body(std::string_view text, char quote, bool escapes) {
    std::string out;
    std::size_t i = text.find(quote);
    while (i != std::string_view::npos && i < text.size()) {
        std::size_t j = i + 1;
        for (; j < text.size(); ++j) {
            if (escapes && text[j] == '\\' && j + 1 < text.size()) {
                out.push_back(text[j]);
                out.push_back(text[++j]);
                continue;
            }
            if (text[j] != quote) {
                out.push_back(text[j]);
                continue;
            }
            if (j + 1 < text.size() && text[j + 1] == quote) {
                out.push_back(quote);
                ++j;
                continue;
            }
            break;
        }
        i = text.find(quote, j + 1);  // a continuation's opening quote, if any
    }
    return out;
}

class Scanner {
  public:
    Scanner(bool quoted_are_code, const NameTest& named)
        : quoted_are_code_(quoted_are_code), named_(named) {}

    // False to stop: a name was accepted, or the text is doubtful.
    bool scan(std::string_view code, int depth) {
        if (depth > kMaxDepth) return doubt();
        std::vector<Token> tokens = lex_sql(code);
        std::size_t gap_begin = 0;
        std::string previous_name;  // the identifier before a ".", for a qualified name
        bool qualifies = false;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            const Token& t = tokens[i];
            if (!scan_gap(code.substr(gap_begin, t.begin - gap_begin))) return false;
            gap_begin = t.end;
            std::string_view text = code.substr(t.begin, t.end - t.begin);
            std::optional<std::string> name;
            if (t.kind == TokenKind::Word) {
                name = config::lower_ascii(text);
            } else if (t.kind == TokenKind::QuotedIdentifier) {
                name = quoted_identifier(code, tokens, i);
                if (!name) return doubt();
                if (quoted_are_code_ && !scan(*name, depth + 1)) return false;
            } else if (t.kind == TokenKind::String) {
                if (!scan_string(code, tokens, i, depth)) return false;
            }
            if (name) {
                std::string n = truncated(std::move(*name));
                if (named_(qualifies ? std::string_view(previous_name) : std::string_view(), n)) {
                    return stop(CodeScan::Named);
                }
                previous_name = std::move(n);
                qualifies = false;
                continue;
            }
            qualifies = !previous_name.empty() && text == ".";
            if (!qualifies) previous_name.clear();
        }
        return scan_gap(code.substr(gap_begin));
    }

    CodeScan result() const { return result_; }

  private:
    bool stop(CodeScan r) {
        result_ = r;
        return false;
    }
    bool doubt() { return stop(CodeScan::Doubtful); }

    // White space, comments or text the lexer stopped at: every word in it counts.
    bool scan_gap(std::string_view gap) {
        if (gap.empty()) return true;
        std::string lower = config::lower_ascii(gap);
        if (lower.find("u&") != std::string::npos) return doubt();
        std::size_t i = 0;
        while (i < lower.size()) {
            unsigned char c = static_cast<unsigned char>(lower[i]);
            bool word = c == '_' || c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
            if (!word) {
                ++i;
                continue;
            }
            std::size_t end = i;
            while (end < lower.size()) {
                unsigned char d = static_cast<unsigned char>(lower[end]);
                if (!(d == '_' || d == '$' || d >= 0x80 || (d >= 'a' && d <= 'z') ||
                      (d >= '0' && d <= '9'))) {
                    break;
                }
                ++end;
            }
            if (named_({}, truncated(lower.substr(i, end - i)))) return stop(CodeScan::Named);
            i = end;
        }
        return true;
    }

    // The escape character of a U& token: '\', or the one its UESCAPE 'c' gives.
    static std::optional<char> unicode_escape(std::string_view code,
                                              const std::vector<Token>& tokens, std::size_t i) {
        if (i + 2 >= tokens.size() || !tokens[i + 1].is_word(code, "uescape")) return '\\';
        const Token& s = tokens[i + 2];
        std::string body = quoted_body(code.substr(s.begin, s.end - s.begin), '\'', false);
        if (body.size() != 1) return std::nullopt;
        return body[0];
    }

    static std::optional<std::string> quoted_identifier(std::string_view code,
                                                        const std::vector<Token>& tokens,
                                                        std::size_t i) {
        std::string_view text = code.substr(tokens[i].begin, tokens[i].end - tokens[i].begin);
        std::string body = quoted_body(text, '"', false);
        if (text[0] == '"') return body;
        std::optional<char> escape = unicode_escape(code, tokens, i);
        if (!escape) return std::nullopt;
        return decode_unicode(body, *escape);
    }

    bool scan_string(std::string_view code, const std::vector<Token>& tokens, std::size_t i,
                     int depth) {
        std::string_view text = code.substr(tokens[i].begin, tokens[i].end - tokens[i].begin);
        if (text[0] == '$') {
            std::size_t tag = text.find('$', 1) + 1;
            if (text.size() < 2 * tag) return doubt();
            return scan(text.substr(tag, text.size() - 2 * tag), depth + 1);
        }
        char prefix = config::lower_ascii(text[0]);
        if (prefix == 'b' || prefix == 'x') return true;  // bits
        if (prefix == 'e') return scan(decode_escapes(quoted_body(text, '\'', true)), depth + 1);
        std::string body = quoted_body(text, '\'', false);
        if (prefix == 'u') {
            std::optional<char> escape = unicode_escape(code, tokens, i);
            std::optional<std::string> decoded =
                escape ? decode_unicode(body, *escape) : std::nullopt;
            return decoded ? scan(*decoded, depth + 1) : doubt();
        }
        if (!scan(body, depth + 1)) return false;
        // With standard_conforming_strings off the server reads it as an E'' string.
        if (body.find('\\') == std::string::npos) return true;
        return scan(decode_escapes(quoted_body(text, '\'', true)), depth + 1);
    }

    bool quoted_are_code_;
    const NameTest& named_;
    CodeScan result_ = CodeScan::None;
};

}  // namespace

CodeScan scan_code_names(std::string_view code, bool quoted_are_code, const NameTest& named) {
    Scanner scanner(quoted_are_code, named);
    scanner.scan(code, 0);
    return scanner.result();
}

std::size_t first_name_in_code(std::string_view code, bool quoted_are_code,
                               const std::vector<std::string>& names) {
    std::size_t k = names.size();
    CodeScan scan =
        scan_code_names(code, quoted_are_code, [&](std::string_view, std::string_view name) {
            for (std::size_t j = 0; j < names.size() && k == names.size(); ++j) {
                if (names[j] == name) k = j;
            }
            return k != names.size();
        });
    if (scan == CodeScan::Doubtful && !names.empty()) return 0;
    return scan == CodeScan::Named ? k : names.size();
}

}  // namespace pgrev::audit
