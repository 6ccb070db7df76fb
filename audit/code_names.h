// The names in code the server runs on a client's behalf: the body of a DO block or of a
// function or procedure. pgrev cannot tell what such code will write, so it looks for the
// tables the code names, with the same reading as statements (sql_lexer.h): unquoted names
// folded, quoted ones as written, U&"..." decoded, a schema before a dot kept. Names inside the
// code's strings count too, however they are written ('...', E'...', U&'...', $$...$$), since
// the code may EXECUTE them; so do words in its comments (the code's strings read otherwise
// with standard_conforming_strings off, and a comment may then be code). A name assembled at
// run time ('reser' || 'vation') is out of any reader's sight (README).
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::audit {

enum class CodeScan {
    None,      // no name that `named` accepted
    Named,     // `named` accepted one
    Doubtful,  // the code holds text pgrev cannot decode (a malformed Unicode escape, strings
               // nested too deeply): it may name anything
};

// Called with each name (schema empty when unqualified; both as the catalog spells them);
// returns true to stop at that name.
using NameTest = std::function<bool(std::string_view schema, std::string_view name)>;

// `quoted_are_code`: the code is not SQL or PL/pgSQL (plpython's "..." are strings), so the
// text of "..." is read as code too.
CodeScan scan_code_names(std::string_view code, bool quoted_are_code, const NameTest& named);

// The index in `names` (catalog names, any schema) of a name `code` holds, or names.size()
// when it holds none; 0 when the code is Doubtful (it may name any of them).
std::size_t first_name_in_code(std::string_view code, bool quoted_are_code,
                               const std::vector<std::string>& names);

}  // namespace pgrev::audit
