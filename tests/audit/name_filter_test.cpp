#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "audit/name_filter.h"
#include "config/text.h"

using pgrev::audit::NameFilter;

TEST_SUITE("audit") {
    TEST_CASE("name_filter: finds configured names in any case") {
        NameFilter f({"reservation", "Invoice"});
        CHECK(f.may_match("UPDATE reservation SET party = 1"));
        CHECK(f.may_match("update RESERVATION set party = 1"));
        CHECK(f.may_match("DELETE FROM \"ReSeRvAtIoN\""));
        CHECK(f.may_match("delete from billing.invoice"));
        CHECK(f.may_match("DELETE FROM billing.INVOICE"));
        // A name inside a longer word still counts: false positives only cost a parse.
        CHECK(f.may_match("SELECT * FROM reservations"));
        CHECK(f.may_match("reservation"));
    }

    TEST_CASE("name_filter: revision tables match through their base name") {
        NameFilter f({"reservation"});
        CHECK(f.may_match("TRUNCATE reservation_rev"));
        CHECK(f.may_match("DROP TABLE public.RESERVATION_REV"));
    }

    TEST_CASE("name_filter: U& always matches, in either case") {
        NameFilter f({"reservation"});
        CHECK(f.may_match(R"(UPDATE U&"\0072eservation" SET party = 1)"));
        CHECK(f.may_match(R"(select u&'x')"));
        NameFilter none({});
        CHECK(none.may_match("U&\"x\""));
        CHECK_FALSE(none.may_match("SELECT 1"));
    }

    TEST_CASE("name_filter: text without the names does not match") {
        NameFilter f({"reservation", "invoice"});
        CHECK_FALSE(f.may_match("SELECT 1"));
        CHECK_FALSE(f.may_match("UPDATE other SET x = 1"));
        CHECK_FALSE(f.may_match("UPDATE reservatio SET x = 1"));  // one letter short
        CHECK_FALSE(f.may_match("U & x"));
        CHECK_FALSE(f.may_match(""));
    }

    TEST_CASE("name_filter: contains_ci edge cases") {
        CHECK(NameFilter::contains_ci("reservation", "reservation"));
        CHECK(NameFilter::contains_ci("RESERVATION x", "reservation"));  // at the start
        CHECK(NameFilter::contains_ci("x rEsErVaTiOn", "reservation"));  // at the end
        CHECK(NameFilter::contains_ci("rreservation", "reservation"));   // after a false start
        CHECK(NameFilter::contains_ci("resreservation", "reservation"));
        CHECK(NameFilter::contains_ci("RrReservation",
                                      "reservation"));  // first letter both cases
        CHECK_FALSE(NameFilter::contains_ci("reservatio", "reservation"));  // longer than text
        CHECK_FALSE(NameFilter::contains_ci("", "reservation"));
        CHECK_FALSE(NameFilter::contains_ci("anything", ""));
        CHECK_FALSE(NameFilter::contains_ci("reservatioN", "reservationn"));
        CHECK_FALSE(NameFilter::contains_ci("rrrrrrrrrrr", "reservation"));
        CHECK(NameFilter::contains_ci("a_b", "_b"));  // a first character without case
        CHECK(NameFilter::contains_ci("x U& y", "u&"));
        // The search skips to the needle's rarest character (v, w, &): at the text's ends,
        // twice in the needle, in a text full of the needle's common letters.
        CHECK(NameFilter::contains_ci("VATION", "vation"));
        CHECK(NameFilter::contains_ci("reserv", "reserv"));
        CHECK_FALSE(NameFilter::contains_ci("eserv", "reserv"));
        CHECK_FALSE(NameFilter::contains_ci("reser", "reserv"));
        CHECK(NameFilter::contains_ci("vvwvwwv", "wwv"));
        CHECK(NameFilter::contains_ci("&u&", "u&"));
        CHECK_FALSE(NameFilter::contains_ci("&&u", "u&"));
        CHECK(NameFilter::contains_ci(std::string(3000, 'e') + "reservationx", "reservation"));
        CHECK_FALSE(NameFilter::contains_ci(std::string(3000, 'v') + "reservatio", "reservation"));
        // Every placement of the needle in a longer text, in every case mix.
        for (std::size_t at = 0; at <= 12; ++at) {
            std::string text(12, 'r');
            text.insert(at, at % 2 ? "InVoIcE" : "invoice");
            CAPTURE(text);
            CHECK(NameFilter::contains_ci(text, "invoice"));
            text[at + 2] = 'x';
            CHECK_FALSE(NameFilter::contains_ci(text, "invoice"));
        }
    }

    TEST_CASE("name_filter: may_match finds every name wherever it is, in any case") {
        NameFilter f({"reservation", "Invoice", "room_vault", "ab"}, true);
        for (std::string name : {"reservation", "invoice", "room_vault", "ab", "u&"}) {
            for (std::size_t at = 0; at <= 6; ++at) {
                for (bool upper : {false, true}) {
                    std::string text(6, ' ');
                    std::string spelled = name;
                    if (upper) {
                        for (char& c : spelled)
                            c = pgrev::config::upper_ascii(c);
                    }
                    text.insert(at, spelled);
                    CAPTURE(text);
                    CHECK(f.may_match(text));
                    CHECK(f.may_match(spelled));
                    CHECK_FALSE(f.may_match(text.substr(0, at + spelled.size() - 1)));
                    CHECK_FALSE(f.may_match(text.substr(at + 1)));
                }
            }
        }
        CHECK_FALSE(f.may_match("SELECT a, b FROM rooms WHERE v = 'x'"));
        CHECK_FALSE(f.may_match(""));
    }

    TEST_CASE("name_filter: the one-pass search agrees with each name's own search") {
        // Names whose rarest characters fold onto other bytes ('_' and DEL, '@' and '`'), a
        // name of one character, names sharing an anchor; texts across 16-byte boundaries.
        const std::vector<std::string> names = {"room_vault", "x@y", "k", "bk", "qq_b", "Kz"};
        NameFilter f(names, false);
        const std::string alphabet = "roOmM_vVaAuUlLtTxX@`yYkKbBqQzZ\x7f ;";
        unsigned state = 12345;
        auto next = [&state] {
            state = state * 1103515245U + 12345U;
            return (state >> 16) & 0x7fffU;
        };
        for (int round = 0; round < 20000; ++round) {
            std::string text(next() % 70, ' ');
            for (char& c : text)
                c = alphabet[next() % alphabet.size()];
            if (next() % 3 == 0) {
                // Plant a name, sometimes with one character changed.
                std::string name = names[next() % names.size()];
                if (name.size() <= text.size()) {
                    std::size_t at = next() % (text.size() - name.size() + 1);
                    text.replace(at, name.size(), name);
                    if (next() % 2 == 0) text[at + next() % name.size()] ^= 0x20;
                }
            }
            bool expected = false;
            for (const auto& name : names)
                expected =
                    expected || NameFilter::contains_ci(text, pgrev::config::lower_ascii(name));
            CAPTURE(text);
            CHECK(f.may_match(text) == expected);
        }
        CHECK_FALSE(f.may_match("room\x7fvault x`y"));
        CHECK(f.may_match("ROOM_VAULT"));
    }
}
