#include "audit/splice.h"

namespace pgrev::audit {

namespace {

// Positions count characters; pgrev assumes UTF-8, where continuation bytes are 10xxxxxx.
bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::size_t byte_offset_of_char(std::string_view text, int position) {
    std::size_t chars = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (is_continuation(text[i])) continue;
        if (++chars == static_cast<std::size_t>(position)) return i;
    }
    return text.size();
}

int char_position_of_byte(std::string_view text, std::size_t offset) {
    int chars = 0;
    for (std::size_t i = 0; i <= offset && i < text.size(); ++i) {
        if (!is_continuation(text[i])) ++chars;
    }
    return chars == 0 ? 1 : chars;
}

}  // namespace

Splice& Splice::copy(std::size_t begin, std::size_t end) {
    if (end <= begin) return *this;
    pieces_.push_back({text_.size(), begin, end - begin});
    text_.append(source_.substr(begin, end - begin));
    return *this;
}

Splice& Splice::add(std::string_view generated) {
    text_.append(generated);
    return *this;
}

Splice& Splice::append(const Splice& other) {
    for (const auto& p : other.pieces_) {
        pieces_.push_back({text_.size() + p.out_begin, p.source_begin, p.length});
    }
    text_.append(other.text_);
    return *this;
}

int map_error_position(int position, std::string_view rewritten, std::string_view source,
                       const std::vector<SourcePiece>& pieces) {
    if (position <= 0 || pieces.empty()) return position;
    std::size_t offset = byte_offset_of_char(rewritten, position);
    for (const auto& p : pieces) {
        if (offset < p.out_begin) return char_position_of_byte(source, p.source_begin);
        if (offset < p.out_begin + p.length) {
            return char_position_of_byte(source, p.source_begin + (offset - p.out_begin));
        }
    }
    return char_position_of_byte(source, pieces.back().source_begin + pieces.back().length - 1);
}

}  // namespace pgrev::audit
