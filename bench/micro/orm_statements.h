// Statements as ORMs send them, for the micro-benchmarks: Django-like UPDATEs with quoted
// identifiers and a sqlcommenter comment, Rails-like INSERT ... RETURNING with a query-log
// comment, and long SELECTs listing every column. The tables are those of
// tests/audit/rewrite_fixture.h: "reservation" is audited; "booking" has the same columns and
// is not, so that the same workload on it is the pass-through baseline.
//
// `i` numbers the request: each one has its own literal values and trace id, as each web
// request has, so that no two texts of different `i` are the same.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgrev::bench {

// splitmix64: ids that look random but are the same on every run.
inline std::uint64_t mix(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// A W3C traceparent, new trace and span ids per request.
inline std::string traceparent(std::uint64_t i) {
    return fmt::format("00-{:016x}{:016x}-{:016x}-01", mix(3 * i), mix(3 * i + 1), mix(3 * i + 2));
}

// What Django's sqlcommenter middleware appends to every statement of a request.
inline std::string sqlcommenter(std::uint64_t i) {
    return "/*controller='checkout',db_driver='psycopg2',framework='django%3A4.2.7',"
           "route='%5Ecart/%28%3FP%3Cpk%3E%5Cd%2B%29/checkout/%24',traceparent='" +
           traceparent(i) + "'*/";
}

// Rails' query logs (config.active_record.query_log_tags), request id included.
inline std::string rails_query_log(std::uint64_t i) {
    return fmt::format(
        "/*application:Shop,controller:bookings,action:create,request_id:"
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}*/",
        mix(i) & 0xffffffff, mix(i) >> 48, mix(i + 7) & 0xfff, mix(i + 9) & 0xfff,
        mix(i + 11) & 0xffffffffffff);
}

// Django's Model.save() of a changed row, literals inlined as psycopg2 sends them. `alias`
// non-empty: the table gets that alias (no ORM varies it; it makes a statement of a new
// shape, which nothing can have cached).
inline std::string django_update(std::string_view table, std::uint64_t i,
                                 std::string_view alias = {}) {
    std::string ref = alias.empty() ? fmt::format("\"{}\"", table) : fmt::format("\"{}\"", alias);
    std::string as = alias.empty() ? "" : fmt::format(" AS \"{}\"", alias);
    return fmt::format(
        "UPDATE \"{}\"{} SET \"name\" = 'Guest {}', \"party\" = {}, \"last_modified\" = "
        "'2026-12-01T18:{:02}:{:02}.{:06}+00:00'::timestamptz WHERE {}.\"id\" = {} {}",
        table, as, mix(i) % 100000, 1 + i % 12, i / 60 % 60, i % 60, mix(i) % 1000000, ref,
        1 + mix(i + 1) % 100000, sqlcommenter(i));
}

// The same UPDATE as a driver that binds parameters sends it (psycopg 3, node-postgres):
// the text changes only in its comment; the values go in the Bind.
inline std::string django_update_parameterized(std::string_view table, std::uint64_t i,
                                               std::string_view alias = {}) {
    std::string ref = alias.empty() ? fmt::format("\"{}\"", table) : fmt::format("\"{}\"", alias);
    std::string as = alias.empty() ? "" : fmt::format(" AS \"{}\"", alias);
    return fmt::format(
        "UPDATE \"{}\"{} SET \"name\" = $1, \"party\" = $2, \"last_modified\" = $3 "
        "WHERE {}.\"id\" = $4 {}",
        table, as, ref, sqlcommenter(i));
}
inline std::vector<std::string> django_update_values(std::uint64_t i) {
    return {
        fmt::format("Guest {}", mix(i) % 100000), std::to_string(1 + i % 12),
        fmt::format("2026-12-01 18:{:02}:{:02}.{:06}+00", i / 60 % 60, i % 60, mix(i) % 1000000),
        std::to_string(1 + mix(i + 1) % 100000)};
}

// Rails' create: INSERT ... RETURNING the new id.
inline std::string rails_insert(std::string_view table, std::uint64_t i) {
    return fmt::format(
        "INSERT INTO \"{}\" (\"name\", \"date\", \"time\", \"party\", \"last_modified\") VALUES "
        "('Guest {}', '2026-12-{:02}', '{:02}:30:00', {}, '2026-12-01 18:{:02}:{:02}.{:06}') "
        "RETURNING \"id\" {}",
        table, mix(i) % 100000, 1 + i % 28, 12 + i % 10, 1 + i % 12, i / 60 % 60, i % 60,
        mix(i) % 1000000, rails_query_log(i));
}
inline std::string rails_insert_parameterized(std::string_view table, std::uint64_t i) {
    return fmt::format(
        "INSERT INTO \"{}\" (\"name\", \"date\", \"time\", \"party\", \"last_modified\") VALUES "
        "($1, $2, $3, $4, $5) RETURNING \"id\" {}",
        table, rails_query_log(i));
}
inline std::vector<std::string> rails_insert_values(std::uint64_t i) {
    return {fmt::format("Guest {}", mix(i) % 100000), fmt::format("2026-12-{:02}", 1 + i % 28),
            fmt::format("{:02}:30:00", 12 + i % 10), std::to_string(1 + i % 12),
            fmt::format("2026-12-01 18:{:02}:{:02}.{:06}", i / 60 % 60, i % 60, mix(i) % 1000000)};
}

// A primary-key lookup as an ORM writes it: every column named.
inline std::string short_select(std::string_view table) {
    return fmt::format(
        "SELECT \"{0}\".\"id\", \"{0}\".\"name\", \"{0}\".\"party\" FROM \"{0}\" "
        "WHERE \"{0}\".\"id\" = 42 LIMIT 1",
        table);
}

// An ORM's list query of about 2 kB: a wide model with a joined one, every column listed by
// its qualified name (select_related / includes). `last_join` is the table joined last: the
// statement names it only near its end.
inline std::string orm_select_2k(std::string_view last_join) {
    std::string columns;
    for (int c = 0; c < 40; ++c) {
        columns += fmt::format("{}\"shop_order\".\"field_{:02}\" AS \"shop_order_field_{:02}\"",
                               c == 0 ? "" : ", ", c, c);
    }
    return fmt::format(
        "SELECT {}, \"{}\".\"id\", \"{}\".\"name\" FROM \"shop_order\" "
        "INNER JOIN \"shop_customer\" ON (\"shop_order\".\"customer_id\" = "
        "\"shop_customer\".\"id\") LEFT OUTER JOIN \"{}\" ON (\"shop_order\".\"booking_id\" = "
        "\"{}\".\"id\") WHERE (\"shop_order\".\"status\" = 'paid' AND "
        "\"shop_order\".\"created\" >= '2026-11-01T00:00:00+00:00'::timestamptz) "
        "ORDER BY \"shop_order\".\"created\" DESC LIMIT 21 {}",
        columns, last_join, last_join, last_join, last_join, sqlcommenter(0));
}

}  // namespace pgrev::bench
