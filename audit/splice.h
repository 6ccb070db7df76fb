// Text assembled from verbatim pieces of the user's SQL and text pgrev generates, remembering
// where each verbatim piece came from, so that an error position the server reports in the
// rewritten text can be mapped back to the text the client sent.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

struct SourcePiece {
    std::size_t out_begin;     // byte offset in the assembled text
    std::size_t source_begin;  // byte offset in the user's text
    std::size_t length;
};

class Splice {
  public:
    explicit Splice(std::string_view source) : source_(source) {}

    Splice& copy(std::size_t begin, std::size_t end);  // verbatim from the user's text
    Splice& add(std::string_view generated);
    Splice& append(const Splice& other);  // another splice of the same source

    const std::string& text() const { return text_; }
    const std::vector<SourcePiece>& pieces() const { return pieces_; }
    std::string_view source() const { return source_; }

  private:
    std::string_view source_;
    std::string text_;
    std::vector<SourcePiece> pieces_;
};

// Maps a 1-based character position in `rewritten` (as in ErrorResponse's P field) to one in
// `source`. A position inside generated text maps to the start of the next verbatim piece.
int map_error_position(int position, std::string_view rewritten, std::string_view source,
                       const std::vector<SourcePiece>& pieces);

}  // namespace pgrev::audit
