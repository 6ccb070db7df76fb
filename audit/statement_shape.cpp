#include "audit/statement_shape.h"

#include <algorithm>

#include "audit/sql_lexer.h"

namespace pgrev::audit {

namespace {

// The slot a token is, if it is one.
bool slot_kind(std::string_view text, const Token& t, ShapeSlot::Kind& kind) {
    switch (t.kind) {
        case TokenKind::Number:
            kind = ShapeSlot::Kind::Number;
            return true;
        case TokenKind::String:
            if (text[t.begin] == '\'') {
                kind = ShapeSlot::Kind::String;
                return true;
            }
            if ((text[t.begin] == 'e' || text[t.begin] == 'E') && t.begin + 1 < t.end &&
                text[t.begin + 1] == '\'') {
                kind = ShapeSlot::Kind::EscapeString;
                return true;
            }
            return false;
        case TokenKind::Comment:
            kind =
                text[t.begin] == '-' ? ShapeSlot::Kind::LineComment : ShapeSlot::Kind::BlockComment;
            return true;
        default:
            return false;
    }
}

}  // namespace

StatementShape statement_shape(std::string_view text) {
    StatementShape shape;
    if (text.find('\x01') != std::string_view::npos) return shape;
    bool complete = false;
    std::vector<Token> tokens = lex_sql_with_comments(text, complete);
    if (!complete) return shape;
    shape.key.reserve(text.size());
    shape.slots.reserve(std::min<std::size_t>(tokens.size(), 16));  // most statements have fewer
    std::size_t pos = 0;
    for (const Token& t : tokens) {
        ShapeSlot::Kind kind{};
        if (!slot_kind(text, t, kind)) continue;
        shape.key.append(text.substr(pos, t.begin - pos));
        shape.key.push_back('\x01');
        shape.key.push_back(static_cast<char>(kind));
        shape.slots.push_back({kind, t.begin, t.end});
        pos = t.end;
    }
    shape.key.append(text.substr(pos));
    shape.usable = true;
    return shape;
}

std::string fill_shape(std::string_view text, const StatementShape& shape,
                       const std::vector<std::string>& values) {
    std::string out;
    std::size_t pos = 0;
    for (std::size_t i = 0; i < shape.slots.size() && i < values.size(); ++i) {
        out.append(text.substr(pos, shape.slots[i].begin - pos)).append(values[i]);
        pos = shape.slots[i].end;
    }
    return out.append(text.substr(pos));
}

}  // namespace pgrev::audit
