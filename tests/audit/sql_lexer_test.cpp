#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "audit/sql_lexer.h"

using namespace pgrev::audit;

namespace {

struct Lexed {
    std::vector<TokenKind> kinds;
    std::vector<std::string> texts;
};

Lexed lex(std::string_view sql) {
    Lexed out;
    for (const Token& t : lex_sql(sql)) {
        out.kinds.push_back(t.kind);
        out.texts.emplace_back(sql.substr(t.begin, t.end - t.begin));
    }
    return out;
}

std::vector<std::string> words(std::string_view sql) {
    std::vector<std::string> out;
    for (const Token& t : lex_sql(sql)) {
        if (t.kind == TokenKind::Word) out.emplace_back(sql.substr(t.begin, t.end - t.begin));
    }
    return out;
}

using Strings = std::vector<std::string>;
using K = TokenKind;

}  // namespace

TEST_SUITE("audit") {
    TEST_CASE("sql_lexer: words, quoted identifiers and strings with doubled quotes") {
        Lexed l = lex(R"(SELECT "a""b", 'it''s' FROM Tab_1$x)");
        CHECK(l.texts == Strings{"SELECT", R"("a""b")", ",", "'it''s'", "FROM", "Tab_1$x"});
        CHECK(l.kinds ==
              std::vector<K>{K::Word, K::QuotedIdentifier, K::Comma, K::String, K::Word, K::Word});
    }

    TEST_CASE("sql_lexer: escape strings take backslash escapes, standard strings do not") {
        // E'\'' is one string; in a standard string a backslash is an ordinary character.
        Lexed l = lex(R"(E'\'' e'a\\' 'c:\' x)");
        CHECK(l.texts == Strings{R"(E'\'')", R"(e'a\\')", R"('c:\')", "x"});
        CHECK(l.kinds == std::vector<K>{K::String, K::String, K::String, K::Word});
        CHECK(lex("B'101' X'ff' N'n'").kinds == std::vector<K>{K::String, K::String, K::String});
    }

    TEST_CASE("sql_lexer: dollar quotes, empty and tagged") {
        Lexed l = lex("$$ a ' b $$ $tag$ x $ta $t$ $$ $tag$ y");
        CHECK(l.texts == Strings{"$$ a ' b $$", "$tag$ x $ta $t$ $$ $tag$", "y"});
        CHECK(l.kinds == std::vector<K>{K::String, K::String, K::Word});
        // An unterminated dollar quote swallows the rest of the text.
        CHECK(lex("SELECT $q$ UPDATE t").texts == Strings{"SELECT", "$q$ UPDATE t"});
    }

    TEST_CASE("sql_lexer: Unicode escape identifiers and strings") {
        Lexed l = lex(R"(U&"\0072eservation" u&'d\0061t' UESCAPE '!')");
        CHECK(l.texts == Strings{R"(U&"\0072eservation")", R"(u&'d\0061t')", "UESCAPE", "'!'"});
        CHECK(l.kinds == std::vector<K>{K::QuotedIdentifier, K::String, K::Word, K::String});
        // Without a quote right after it, U& is a word and an operator.
        CHECK(lex("U & 'x'").kinds == std::vector<K>{K::Word, K::Other, K::String});
    }

    TEST_CASE("sql_lexer: comments nest and are left out") {
        CHECK(lex("a /* x /* y */ still comment */ b").texts == Strings{"a", "b"});
        CHECK(lex("a -- c ) ;\nb").texts == Strings{"a", "b"});
        CHECK(lex("a -- to the end").texts == Strings{"a"});
        CHECK(lex("a /* unterminated /* */").texts == Strings{"a"});
        // "--" starts a comment even right after another token.
        CHECK(lex("1--2").texts == Strings{"1"});
    }

    TEST_CASE("sql_lexer: parameters and numbers") {
        Lexed l = lex("$1 + $12 * 1e-5 - 1.5E+10 / .5 % 42");
        CHECK(l.texts ==
              Strings{"$1", "+", "$12", "*", "1e-5", "-", "1.5E+10", "/", ".5", "%", "42"});
        CHECK(l.kinds == std::vector<K>{K::Parameter, K::Other, K::Parameter, K::Other, K::Number,
                                        K::Other, K::Number, K::Other, K::Number, K::Other,
                                        K::Number});
        // "1-2" is a subtraction, not one number.
        CHECK(lex("1-2").texts == Strings{"1", "-", "2"});
    }

    TEST_CASE("sql_lexer: punctuation") {
        CHECK(lex("a,b;c.d").kinds ==
              std::vector<K>{K::Word, K::Comma, K::Word, K::Semicolon, K::Word, K::Other, K::Word});
    }

    TEST_CASE("sql_lexer: parenthesis depth and matching_paren") {
        std::string_view sql = "f((1), (2, (3))) x";
        std::vector<Token> t = lex_sql(sql);
        REQUIRE(t.size() == 15);
        std::vector<int> depths;
        for (const auto& tok : t)
            depths.push_back(tok.depth);
        // An OpenParen and its CloseParen both carry the outer depth.
        CHECK(depths == std::vector<int>{0, 0, 1, 2, 1, 1, 1, 2, 2, 2, 3, 2, 1, 0, 0});
        CHECK(matching_paren(t, 1) == 13);
        CHECK(matching_paren(t, 2) == 4);
        CHECK(matching_paren(t, 6) == 12);
        CHECK(matching_paren(t, 9) == 11);
        CHECK(matching_paren(t, 0) == t.size());  // not an OpenParen
        CHECK(matching_paren(t, 99) == t.size());
        // Parentheses inside strings and comments do not count.
        std::vector<Token> q = lex_sql("(')' /* ( */ \")\")");
        REQUIRE(q.size() == 4);
        CHECK(matching_paren(q, 0) == 3);
        std::vector<Token> open = lex_sql("((a)");
        CHECK(matching_paren(open, 0) == open.size());
    }

    TEST_CASE("sql_lexer: token_at finds the first token at or after an offset") {
        std::string_view sql = "SELECT a, b";
        std::vector<Token> t = lex_sql(sql);
        REQUIRE(t.size() == 4);
        CHECK(t[1].begin == 7);
        CHECK(t[1].end == 8);
        CHECK(token_at(t, 0) == 0);
        CHECK(token_at(t, 1) == 1);
        CHECK(token_at(t, 7) == 1);
        CHECK(token_at(t, 8) == 2);
        CHECK(token_at(t, 9) == 3);
        CHECK(token_at(t, 11) == 4);
        CHECK(token_at({}, 0) == 0);
    }

    TEST_CASE("sql_lexer: DML words inside strings, comments and quotes are never words") {
        std::string_view sql = R"(SELECT 'update', "update", $$update$$, $u$ delete $u$, )"
                               R"(E'update\'', U&'update', /* update /* insert */ */ 1 -- delete)";
        CHECK(words(sql) == Strings{"SELECT"});
        for (const Token& t : lex_sql(sql)) {
            CHECK_FALSE(t.is_word(sql, "update"));
            CHECK_FALSE(t.is_word(sql, "delete"));
        }
        CHECK(words("UPDATE t SET a = 'x'") == Strings{"UPDATE", "t", "SET", "a"});
    }

    TEST_CASE("sql_lexer: is_word compares case-insensitively and only words") {
        std::string_view sql = R"(UpDaTe "update" updates)";
        std::vector<Token> t = lex_sql(sql);
        REQUIRE(t.size() == 3);
        CHECK(t[0].is_word(sql, "update"));
        CHECK_FALSE(t[1].is_word(sql, "update"));
        CHECK_FALSE(t[2].is_word(sql, "update"));
        CHECK_FALSE(t[0].is_word(sql, "updat"));
    }

    TEST_CASE("sql_lexer: an unterminated string or quoted identifier ends the list") {
        CHECK(lex("SELECT a, 'abc").texts == Strings{"SELECT", "a", ","});
        CHECK(lex("SELECT \"abc").texts == Strings{"SELECT"});
        CHECK(lex("SELECT E'abc\\'").texts == Strings{"SELECT"});
    }

    TEST_CASE("sql_lexer: quote_identifier doubles embedded quotes") {
        CHECK(quote_identifier("reservation") == "\"reservation\"");
        CHECK(quote_identifier("a\"b") == "\"a\"\"b\"");
        CHECK(quote_identifier("") == "\"\"");
    }
}
