#include "audit/source_names.h"

#include <algorithm>

#include "audit/name_filter.h"
#include "audit/sql_lexer.h"
#include "config/text.h"

namespace pgrev::audit {

namespace {

bool is_identifier_byte(char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '$';
}

// Case-insensitive occurrences of `lower` in `text` that are whole words.
std::vector<std::size_t> word_occurrences(std::string_view text, std::string_view lower) {
    std::vector<std::size_t> out;
    if (lower.empty()) return out;
    std::string lowered = config::lower_ascii(text);
    for (std::size_t at = lowered.find(lower); at != std::string::npos;
         at = lowered.find(lower, at + 1)) {
        bool starts = at == 0 || !is_identifier_byte(text[at - 1]);
        std::size_t end = at + lower.size();
        // A '$' after it may close a dollar quote ($q$UPDATE t$q$): taken for an end, which
        // at worst finds a name in t$x too.
        bool ends = end >= text.size() || text[end] == '$' || !is_identifier_byte(text[end]);
        if (starts && ends) out.push_back(at);
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    c = config::lower_ascii(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

void append_utf8(std::string& out, unsigned long cp) {
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

// The name a quoted identifier token spells: "a""b" is a"b; U&"d\0061t\+000061" is data
// with escape character `escape`.
std::string quoted_value(std::string_view token, char escape) {
    bool unicode = token.size() > 2 && (token[0] == 'u' || token[0] == 'U') && token[1] == '&';
    std::string_view body = token.substr(unicode ? 3 : 1);
    if (!body.empty()) body.remove_suffix(1);
    std::string out;
    for (std::size_t i = 0; i < body.size(); ++i) {
        char c = body[i];
        if (c == '"' && i + 1 < body.size() && body[i + 1] == '"') {
            out.push_back('"');
            ++i;
        } else if (unicode && c == escape) {
            if (i + 1 < body.size() && body[i + 1] == escape) {
                out.push_back(escape);
                ++i;
                continue;
            }
            std::size_t digits = i + 1 < body.size() && body[i + 1] == '+' ? 6 : 4;
            std::size_t first = i + 1 + (digits == 6 ? 1 : 0);
            unsigned long cp = 0;
            bool ok = first + digits <= body.size();
            for (std::size_t k = 0; ok && k < digits; ++k) {
                int v = hex_value(body[first + k]);
                ok = v >= 0;
                cp = cp * 16 + static_cast<unsigned long>(v < 0 ? 0 : v);
            }
            if (!ok) return {};  // the server refuses it
            append_utf8(out, cp);
            i = first + digits - 1;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

// Whether [from, end of text) holds only white space and complete comments.
bool only_comments(std::string_view text, std::size_t from) {
    std::size_t i = from;
    while (i < text.size()) {
        char c = text[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            ++i;
        } else if (text.compare(i, 2, "--") == 0) {
            std::size_t nl = text.find('\n', i);
            if (nl == std::string_view::npos) return true;
            i = nl + 1;
        } else if (text.compare(i, 2, "/*") == 0) {
            int depth = 0;
            while (i < text.size()) {
                if (text.compare(i, 2, "/*") == 0) {
                    ++depth;
                    i += 2;
                } else if (text.compare(i, 2, "*/") == 0) {
                    i += 2;
                    if (--depth == 0) break;
                } else {
                    ++i;
                }
            }
            if (depth != 0) return false;
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

std::size_t name_in_source(std::string_view source, const std::vector<std::string>& names) {
    bool any = NameFilter::contains_ci(source, "u&");
    for (const auto& n : names)
        any = any || NameFilter::contains_ci(source, config::lower_ascii(n));
    if (!any) return names.size();
    std::vector<Token> tokens = lex_sql(source);
    std::size_t covered = tokens.empty() ? 0 : tokens.back().end;
    // Where the lexer stopped early (an unterminated string or comment) the rest is read as
    // code: refusing too much is safe.
    bool tail_is_code = !only_comments(source, covered);
    // Quoted identifiers, U&"..." decoded, against the names as stored.
    for (std::size_t t = 0; t < tokens.size(); ++t) {
        if (tokens[t].kind != TokenKind::QuotedIdentifier) continue;
        std::string_view text = source.substr(tokens[t].begin, tokens[t].end - tokens[t].begin);
        char escape = '\\';
        if (t + 2 < tokens.size() && tokens[t + 1].is_word(source, "uescape") &&
            tokens[t + 2].kind == TokenKind::String &&
            tokens[t + 2].end - tokens[t + 2].begin == 3) {
            escape = source[tokens[t + 2].begin + 1];
        }
        std::string value = quoted_value(text, escape);
        auto it = std::find(names.begin(), names.end(), value);
        if (it != names.end()) return static_cast<std::size_t>(it - names.begin());
    }
    for (std::size_t k = 0; k < names.size(); ++k) {
        std::string lower = config::lower_ascii(names[k]);
        for (std::size_t at : word_occurrences(source, lower)) {
            if (at >= covered) {
                if (tail_is_code) return k;
                continue;
            }
            std::size_t t = token_at(tokens, at + 1);  // the first token starting after it
            if (t == 0) continue;                      // before the first token: a comment
            const Token& tok = tokens[t - 1];
            if (at >= tok.end) continue;  // between tokens: in a comment
            // An unquoted word folds to lower case: it names a lower-case name only. Words
            // inside a string may be dynamic SQL, in any spelling.
            if ((tok.kind == TokenKind::Word && lower == names[k]) ||
                tok.kind == TokenKind::String) {
                return k;
            }
        }
    }
    return names.size();
}

}  // namespace pgrev::audit
