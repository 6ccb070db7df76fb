#include "step.h"

#include <cstdio>

namespace pgrev::difffuzz {

std::string escape_text(const std::string& text) {
    std::string out;
    for (unsigned char ch : text) {
        switch (ch) {
            case '\r':
                out += "\\r";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\f':
                out += "\\f";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            default:
                if (ch < 0x20 || ch == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\x%02x", ch);
                    out += buf;
                } else {
                    out += static_cast<char>(ch);
                }
        }
    }
    return out;
}

std::string Rendered::text() const {
    std::string out = gaps.empty() ? "" : gaps[0];
    for (std::size_t i = 0; i < tokens.size(); ++i)
        out += tokens[i] + (i + 1 < gaps.size() ? gaps[i + 1] : "");
    return out;
}

std::string Rendered::plain() const {
    std::string out;
    for (const std::string& token : tokens)
        out += (out.empty() ? "" : " ") + token;
    return out;
}

void Step::set_pieces(std::vector<Rendered> rendered) {
    pieces = std::move(rendered);
    if (kind == StepKind::Query) {
        parts.clear();
        for (const Rendered& piece : pieces)
            parts.push_back(piece.text());
    } else if (!pieces.empty()) {
        sql = pieces[0].text();
    }
}

std::string Step::query_text() const {
    std::string text;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) text += ";";
        text += parts[i];
    }
    return text;
}

namespace {

std::string params_text(const std::vector<Param>& params) {
    std::string text = "[";
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (i > 0) text += ", ";
        text += params[i] ? "\"" + escape_text(*params[i]) + "\"" : "NULL";
    }
    return text + "]";
}

}  // namespace

std::string Step::describe() const {
    switch (kind) {
        case StepKind::Query:
            return "query \"" + escape_text(query_text()) + "\"";
        case StepKind::Params:
            return "params \"" + escape_text(sql) + "\" " + params_text(params);
        case StepKind::Prepare:
            return "prepare '" + name + "' \"" + escape_text(sql) + "\"";
        case StepKind::ExecPrepared:
            return "execute '" + name + "' " + params_text(params);
        case StepKind::Describe:
            return "describe '" + name + "'";
        case StepKind::Sync:
            return "sync";
        case StepKind::Pipeline: {
            std::string text = "pipeline {";
            for (const Step& item : items)
                text += "\n      " + item.describe();
            return text + "\n      sync }";
        }
    }
    return "?";
}

bool Sequence::has_ddl() const {
    for (const Step& s : steps)
        if (s.ddl) return true;
    return false;
}

std::string Sequence::describe() const {
    std::string text;
    for (std::size_t i = 0; i < steps.size(); ++i)
        text += "  " + std::to_string(i + 1) + ". " + steps[i].describe() + "\n";
    return text;
}

}  // namespace pgrev::difffuzz
