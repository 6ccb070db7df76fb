// A statement's shape: its text with the values of its literals and the contents of its
// comments left open. Texts of one shape differ only where nothing pgrev decides depends on
// (for the statements PlanTemplate takes, see plan_template.h): an ORM sends the same UPDATE
// with other values, a framework tags each request's SQL with a comment holding a trace id.
// So pgrev plans a shape once and fills the plan in for every text of it, without a parse.
//
// Slots are the tokens pgrev's lexer reads as a number, a '...' or E'...' string (with its
// continuations), or a comment. Other literals (B'', X'', U&'' with UESCAPE, dollar quotes:
// function and DO bodies) stay part of the shape. Since the lexer cuts tokens where the
// server's scanner does, and a slot's contents cannot change how the text after it is cut,
// two texts with the same key are the same sequence of tokens but for the slots' values.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

struct ShapeSlot {
    enum class Kind : char {
        Number = 'n',
        String = 's',        // '...'
        EscapeString = 'e',  // E'...'
        LineComment = 'l',
        BlockComment = 'c',
    };
    Kind kind;
    std::size_t begin;  // byte range in the text
    std::size_t end;
};

struct StatementShape {
    // The text outside the slots, each slot replaced by "\x01" and its kind. Meaningful only
    // when `usable`.
    std::string key;
    std::vector<ShapeSlot> slots;
    // False for a text the shape cache does not take: one that holds a byte 0x01 (which the
    // key could not tell from a slot), or that ends inside a string or comment.
    bool usable = false;
};

StatementShape statement_shape(std::string_view text);

// `text` with the slots of `shape` (its shape) replaced by `values`, in order.
std::string fill_shape(std::string_view text, const StatementShape& shape,
                       const std::vector<std::string>& values);

}  // namespace pgrev::audit
