#include "statements.h"

namespace pgrev::difffuzz {

namespace {

// How a statement refers to its target: the alias if any, else the table's bare name.
struct Target {
    const Table* table;
    std::string ref;        // as written after INSERT INTO / UPDATE / DELETE FROM
    std::string alias;      // empty: none
    std::string qualifier;  // what column references may be prefixed with
};

Target target(Gen& g, const Table& t, bool allow_alias) {
    Target tg{&t, table_ref(t, g.rng, g.on), "", ident_plain(t.name)};
    if (allow_alias && g.rng.chance(35)) {
        tg.alias = g.rng.pick(std::vector<std::string>{"x", "t", "\"Al\""});
        tg.qualifier = tg.alias;
    }
    return tg;
}

std::string col(Gen& g, const Target& tg, const Column& c, bool qualify_maybe = true) {
    std::string name = ident(c.name, g.rng, g.on);
    if (qualify_maybe && g.rng.chance(30)) return tg.qualifier + "." + name;
    return name;
}

const Column& any_column(Gen& g, const Table& t) {
    return t.columns[g.rng.below(t.columns.size())];
}

std::vector<const Column*> writable(const Table& t) {
    std::vector<const Column*> out;
    for (const Column& c : t.columns)
        if (c.kind != ColKind::Generated) out.push_back(&c);
    return out;
}

std::string value(Gen& g, const Column& c, bool in_where = false) {
    Value v = random_value(c.kind, c.key, g.rng, g.on);
    if (in_where && v.sql == "DEFAULT") v = {"NULL", std::nullopt};
    if (g.params != nullptr && v.parameterizable && g.rng.chance(50)) {
        g.params->push_back(v.param);
        return "$" + std::to_string(g.params->size());
    }
    return v.sql;
}

Sql predicate(Gen& g, const Target& tg) {
    const Column& c = any_column(g, *tg.table);
    Sql p;
    switch (g.rng.below(7)) {
        case 0:
            p << col(g, tg, c) << "=" << value(g, c, true);
            break;
        case 1:
            p << col(g, tg, c) << ">" << value(g, c, true);
            break;
        case 2:
            p << col(g, tg, c) << "IS" << (g.rng.chance(50) ? "NULL" : "NOT NULL");
            break;
        case 3:
            p << "true";
            break;
        case 4:
            p << col(g, tg, c) << "IN"
              << "(" << value(g, c, true) << "," << value(g, c, true) << ")";
            break;
        case 5:
            p << "NOT"
              << "(" << col(g, tg, c) << "<" << value(g, c, true) << ")";
            break;
        default:
            p << col(g, tg, c) << "IS DISTINCT FROM" << value(g, c, true) << "OR"
              << col(g, tg, any_column(g, *tg.table)) << "IS NULL";
    }
    return p;
}

// One item of a RETURNING list; `from`: the name of a FROM/USING item, if any.
Sql returning_item(Gen& g, const Target& tg, const std::string& from) {
    const Table& t = *tg.table;
    const Column& c = any_column(g, t);
    std::vector<int> kinds = {0, 1, 2, 3, 4};
    if (g.on.on("whole-row")) kinds.insert(kinds.end(), {5, 6});
    if (g.on.on("system-columns")) kinds.insert(kinds.end(), {7, 8});
    if (g.on.on("errors")) kinds.push_back(9);
    if (g.on.on("returning-agg")) kinds.insert(kinds.end(), {10, 11, 12});
    if (!from.empty()) kinds.insert(kinds.end(), {13, 13});
    Sql r;
    switch (g.rng.pick(kinds)) {
        case 0:
            r << "*";
            break;
        case 1:
            r << col(g, tg, c);
            break;
        case 2:
            r << col(g, tg, c) << "AS"
              << ident(g.rng.pick(std::vector<std::string>{"out", "Out", "x y"}), g.rng, g.on);
            break;
        case 3:
            if (c.kind == ColKind::Text || c.kind == ColKind::Code)
                r << "upper"
                  << "(" << col(g, tg, c) << ")";
            else
                r << col(g, tg, c) << "+"
                  << "1"
                  << "AS"
                  << "plus";
            break;
        case 4:
            r << "'lit'"
              << "::"
              << "text"
              << "AS"
              << "lit";
            break;
        case 5:
            r << tg.qualifier << "."
              << "*";
            break;
        case 6:
            r << tg.qualifier;
            break;
        case 7:
            r << "tableoid"
              << "::"
              << "regclass";
            break;
        case 8:
            r << "("
              << "xmax"
              << "="
              << "0"
              << ")"
              << "AS"
              << "inserted";
            break;
        case 9:
            r << "1"
              << "/"
              << "(" << col(g, tg, t.columns[0]) << "-" << col(g, tg, t.columns[0]) << ")";
            break;
        case 10:
            r << "count"
              << "("
              << "*"
              << ")";
            break;
        case 11:
            r << "generate_series"
              << "("
              << "1"
              << ","
              << "2"
              << ")";
            break;
        case 12:
            r << "row_number"
              << "("
              << ")"
              << "OVER"
              << "("
              << ")";
            break;
        default:
            r << from + "." + (g.rng.chance(50) ? "v" : "*");
    }
    return r;
}

Sql returning(Gen& g, const Target& tg, const std::string& from = "") {
    Sql r;
    if (!g.on.on("returning") || !g.rng.chance(45)) return r;
    r << "RETURNING";
    int n = g.rng.range(1, 3);
    for (int i = 0; i < n; ++i) {
        if (i > 0) r << ",";
        r << returning_item(g, tg, from);
    }
    return r;
}

const Table& random_table(Gen& g) {
    return g.tables[g.rng.below(g.tables.size())];
}

std::vector<const Column*> insert_columns(Gen& g, const Table& t) {
    std::vector<const Column*> cols;
    for (const Column* c : writable(t)) {
        bool must = c->not_null && !c->has_default;
        if (must ? !g.rng.chance(3) : g.rng.chance(60)) cols.push_back(c);
    }
    if (cols.empty()) cols.push_back(writable(t)[0]);
    return cols;
}

Sql conflict_clause(Gen& g, const Target& tg) {
    const Table& t = *tg.table;
    Sql s;
    if (!g.on.on("upsert") || !t.has_key() || !g.rng.chance(35)) return s;
    s << "ON CONFLICT";
    bool named = g.rng.chance(70);
    if (named) {
        s << "(";
        bool first = true;
        for (const Column& c : t.columns) {
            if (!c.key) continue;
            if (!first) s << ",";
            s << ident(c.name, g.rng, g.on);
            first = false;
        }
        s << ")";
    }
    if (!named || g.rng.chance(40)) return s << "DO NOTHING";
    s << "DO UPDATE SET";
    std::vector<const Column*> cols = writable(t);
    const Column& c = *cols[g.rng.below(cols.size())];
    if (g.rng.chance(60)) {
        s << ident(c.name, g.rng, g.on) << "="
          << "EXCLUDED." + ident(c.name, g.rng, g.on);
    } else {
        s << ident(c.name, g.rng, g.on) << "=" << value(g, c);
    }
    if (g.rng.chance(30)) s << "WHERE" << predicate(g, tg);
    return s;
}

Sql insert_stmt(Gen& g, const Table& t) {
    Target tg = target(g, t, false);
    Sql s{"INSERT", "INTO", tg.ref};
    if (g.rng.chance(20)) {
        tg.alias = "ins";
        tg.qualifier = "ins";
        s << "AS"
          << "ins";
    }
    std::vector<const Column*> cols = insert_columns(g, t);
    s << "(";
    for (std::size_t i = 0; i < cols.size(); ++i) {
        if (i > 0) s << ",";
        s << ident(cols[i]->name, g.rng, g.on);
    }
    s << ")";
    if (g.on.on("insert-select") && g.rng.chance(25)) {
        s << "SELECT";
        for (std::size_t i = 0; i < cols.size(); ++i) {
            if (i > 0) s << ",";
            if (cols[i]->kind == ColKind::Int) {
                s << "g"
                  << "+" << std::to_string(g.rng.range(0, 5));
            } else if (cols[i]->kind == ColKind::Text || cols[i]->kind == ColKind::Code) {
                s << "'s'"
                  << "||"
                  << "g";
            } else {
                s << "g"
                  << "*"
                  << "1.5";
            }
        }
        s << "FROM"
          << "generate_series"
          << "("
          << "1"
          << "," << std::to_string(g.rng.range(1, 4)) << ")"
          << "AS"
          << "g";
    } else {
        s << "VALUES";
        int rows = g.rng.range(1, 3);
        for (int r = 0; r < rows; ++r) {
            if (r > 0) s << ",";
            s << "(";
            for (std::size_t i = 0; i < cols.size(); ++i) {
                if (i > 0) s << ",";
                s << value(g, *cols[i]);
            }
            s << ")";
        }
    }
    return s << conflict_clause(g, tg) << returning(g, tg);
}

Sql set_list(Gen& g, const Target& tg) {
    std::vector<const Column*> cols = writable(*tg.table);
    Sql s;
    int n = g.rng.range(1, 2);
    for (int i = 0; i < n; ++i) {
        const Column& c = *cols[g.rng.below(cols.size())];
        if (i > 0) s << ",";
        s << ident(c.name, g.rng, g.on) << "=";
        if (c.kind == ColKind::Int && g.rng.chance(40)) {
            s << col(g, tg, c) << "+"
              << "1";
        } else if (g.rng.chance(10)) {
            s << "DEFAULT";
        } else {
            s << value(g, c);
        }
    }
    return s;
}

Sql update_stmt(Gen& g, const Table& t) {
    Target tg = target(g, t, true);
    Sql s{"UPDATE", tg.ref};
    if (!tg.alias.empty()) {
        if (g.rng.chance(50)) s << "AS";
        s << tg.alias;
    }
    s << "SET" << set_list(g, tg);
    std::string from;
    if (g.on.on("update-from") && g.rng.chance(25)) {
        from = "p";
        s << "FROM"
          << "plain"
          << "p";
    }
    s << "WHERE" << predicate(g, tg);
    if (!from.empty())
        s << "AND" << tg.qualifier + "." + ident_plain(t.columns[0].name) << "="
          << "p.id";
    return s << returning(g, tg, from);
}

Sql delete_stmt(Gen& g, const Table& t) {
    Target tg = target(g, t, true);
    Sql s{"DELETE", "FROM", tg.ref};
    if (!tg.alias.empty()) s << tg.alias;
    std::string from;
    if (g.on.on("delete-using") && g.rng.chance(25)) {
        from = "p";
        s << "USING"
          << "plain"
          << "p";
    }
    s << "WHERE" << predicate(g, tg);
    if (!from.empty())
        s << "AND" << tg.qualifier + "." + ident_plain(t.columns[0].name) << "="
          << "p.id";
    return s << returning(g, tg, from);
}

Sql select_stmt(Gen& g, const Table& t) {
    Target tg = target(g, t, false);
    Sql s{"SELECT", "*", "FROM", tg.ref, "WHERE"};
    s << predicate(g, tg) << "ORDER"
      << "BY"
      << "1";
    if (g.rng.chance(20))
        s << "FOR"
          << "UPDATE";
    return s;
}

const Table& table_for_write(Gen& g) {
    return random_table(g);
}

Sql dml_on(Gen& g, const Table& t) {
    int which = static_cast<int>(g.rng.below(10));
    if (which < 4) return insert_stmt(g, t);
    if (which < 7) return update_stmt(g, t);
    if (t.name == "dom" && !g.on.on("domain-delete")) return update_stmt(g, t);
    return delete_stmt(g, t);
}

Sql cte_stmt(Gen& g) {
    const Table& t = table_for_write(g);
    Sql s;
    switch (g.rng.below(3)) {
        case 0: {
            Sql inner = dml_on(g, t);
            if (inner.plain().find("RETURNING") == std::string::npos)
                inner << "RETURNING"
                      << "*";
            s << "WITH"
              << "w"
              << "AS"
              << "(" << inner << ")"
              << "SELECT";
            s << (g.rng.chance(50) ? Sql{"count", "(", "*", ")"} : Sql{"*"}) << "FROM"
              << "w";
            break;
        }
        case 1: {
            s << "WITH"
              << "s"
              << "AS"
              << "("
              << "SELECT"
              << "g"
              << "AS"
              << "k"
              << "FROM"
              << "generate_series"
              << "("
              << "1"
              << ","
              << "3"
              << ")"
              << "g"
              << ")";
            s << dml_on(g, t);
            break;
        }
        default: {
            const Table& other = random_table(g);
            Sql first = dml_on(g, t);
            if (first.plain().find("RETURNING") == std::string::npos)
                first << "RETURNING"
                      << "1";
            s << "WITH"
              << "w"
              << "AS"
              << "(" << first << ")" << dml_on(g, other);
        }
    }
    return s;
}

}  // namespace

Sql random_dml_on(Gen& g, const Table& table) {
    return dml_on(g, table);
}

Sql random_dml(Gen& g) {
    return dml_on(g, table_for_write(g));
}

Sql random_statement(Gen& g) {
    int which = static_cast<int>(g.rng.below(20));
    if (which < 2) return select_stmt(g, random_table(g));
    if (which < 4 && g.on.on("cte")) return cte_stmt(g);
    return random_dml(g);
}

Sql with_syntax_error(Sql sql, Rng& rng) {
    std::vector<std::string>& tokens = sql.tokens();
    if (tokens.size() > 2 && rng.chance(50)) {
        tokens.erase(tokens.begin() + static_cast<long>(1 + rng.below(tokens.size() - 1)));
    } else {
        static const std::vector<std::string> stray = {",", "(", "WHERE", "SET", "FROM", "))"};
        tokens.insert(tokens.begin() + static_cast<long>(1 + rng.below(tokens.size())),
                      rng.pick(stray));
    }
    return sql;
}

}  // namespace pgrev::difffuzz
