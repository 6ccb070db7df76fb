// What the server runs on a client's behalf that reaches audited or revision tables without a
// statement naming them (catalog_query.h): routines whose source names one, triggers and rules
// that run them or depend on one, and the foreign keys through which the server itself changes
// an audited table's rows.
#include <fmt/format.h>

#include <map>
#include <set>
#include <string_view>

#include "audit/catalog_query.h"
#include "audit/code_names.h"
#include "config/text.h"

namespace pgrev::audit {

namespace {

using Result = QueryResult;

Result exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
    return catalog_exec(conn, sql, params);
}

// Relations with what reaching them means, e.g. "audited table public.reservation".
struct Relations {
    std::vector<std::string> schemas;
    std::vector<std::string> names;
    std::vector<std::string> reaches;
    std::vector<std::string> audited;  // the audited (or revision) table behind each

    void add(const std::string& schema, const std::string& name, std::string reach,
             std::string table) {
        schemas.push_back(schema);
        names.push_back(name);
        reaches.push_back(std::move(reach));
        audited.push_back(std::move(table));
    }
    // The relations as the base(oid, ord) CTE of a catalog query; ord counts from 1.
    static constexpr const char* kBase =
        "base(oid, ord) AS ("
        "  SELECT pg_catalog.to_regclass(pg_catalog.quote_ident(s) || '.' ||"
        "    pg_catalog.quote_ident(n))::pg_catalog.oid, ord"
        "  FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[]))"
        "    WITH ORDINALITY AS u(s, n, ord) WHERE s <> '')";
    std::vector<std::string> params() const { return {text_array(schemas), text_array(names)}; }
    std::size_t index(const char* ord) const { return std::stoul(ord) - 1; }
};

// What reaching a table means in the relations audited_relations gives.
struct Reach {
    bool history = false;  // revision tables and their parents
    bool views = false;    // views of those and of audited tables
    bool parents = false;  // parents of those
};

// The audited tables and their partitions and children, with what `reach` asks for.
Relations audited_relations(const std::vector<config::AuditedTable>& configured,
                            const CatalogLinks& links, Reach reach) {
    const bool history = reach.history;
    const bool views = reach.views;
    Relations out;
    for (const auto& t : configured) {
        out.add(t.schema, t.name, "audited table " + t.qualified_name(), t.qualified_name());
        std::string rev = t.schema + "." + config::rev_name(t.name);
        if (history) out.add(t.schema, config::rev_name(t.name), "revision table " + rev, rev);
    }
    for (const auto& c : links.children) {
        if (c.view && !views) continue;
        std::string name = c.schema.empty() ? c.name : c.schema + "." + c.name;
        out.add(c.schema, c.name,
                name + (c.view ? " (a view of " : " (a partition or child of audited table ") +
                    c.parent + ")",
                c.parent);
    }
    for (const auto& a : links.ancestors) {
        if (!reach.parents || (a.of_rev && !history)) continue;
        out.add(a.schema, a.name,
                a.schema + "." + a.name + " (a parent of " +
                    (a.of_rev ? "revision table " : "audited table ") + a.descendant + ")",
                a.descendant);
    }
    return out;
}

// User routines (not in pg_catalog or information_schema, not in C) whose source names one of
// `relations`, or a routine found so, at any depth. A cheap search on the server picks the
// candidates; scan_code_names decides, reading the source as pgrev reads a DO block or a
// CREATE FUNCTION's body (code_names.h), so a routine is flagged for exactly what would have
// refused its definition through pgrev. Returns them with their oids.
std::map<std::string, FlaggedRoutine> read_routines(PGconn* conn, const Relations& relations) {
    // SQL-standard bodies (PostgreSQL 14 on) are kept parsed: pg_get_function_sqlbody shows them.
    const bool sqlbody = PQserverVersion(conn) >= 140000;
    const std::string source =
        sqlbody
            ? "CASE WHEN p.prosqlbody IS NOT NULL THEN pg_catalog.pg_get_function_sqlbody(p.oid)"
              " ELSE p.prosrc END"
            : "p.prosrc";
    const std::string sql =
        "SELECT p.oid::pg_catalog.text, n.nspname, p.proname, s.src, l.lanname "
        "FROM pg_catalog.pg_proc p "
        "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
        "JOIN pg_catalog.pg_language l ON l.oid = p.prolang, "
        "LATERAL (SELECT " +
        source +
        " AS src) s "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') "
        "  AND l.lanname NOT IN ('c', 'internal') AND EXISTS ("
        "    SELECT FROM pg_catalog.unnest($1::text[]) w"
        "    WHERE pg_catalog.strpos(pg_catalog.lower(s.src), w) > 0)";
    std::map<std::string, FlaggedRoutine> flagged;
    std::vector<std::string> names = relations.names;
    std::vector<std::string> reaches = relations.reaches;
    std::vector<std::string> vias(names.size());
    bool first = true;
    while (!names.empty()) {
        std::vector<std::string> needles;
        needles.reserve(names.size() + 1);
        for (const auto& n : names)
            needles.push_back(config::lower_ascii(n));
        if (first) {
            // A quoted identifier (U&"...") or an escape in a string (E'\162...') can spell
            // any name without its letters.
            needles.emplace_back("u&");
            needles.emplace_back("\\");
        }
        first = false;
        Result r = exec(conn, sql, {text_array(needles)});
        std::vector<std::string> next_names, next_reaches, next_vias;
        for (int i = 0; i < PQntuples(r.get()); ++i) {
            std::string oid = PQgetvalue(r.get(), i, 0);
            if (flagged.count(oid) != 0) continue;
            std::string language = PQgetvalue(r.get(), i, 4);
            bool quoted_are_code = !(language == "sql" || language == "plpgsql");
            std::size_t k = first_name_in_code(PQgetvalue(r.get(), i, 3), quoted_are_code, names);
            if (k == names.size()) continue;
            FlaggedRoutine f{PQgetvalue(r.get(), i, 1), PQgetvalue(r.get(), i, 2), reaches[k],
                             vias[k]};
            next_names.push_back(f.name);
            next_reaches.push_back(f.reaches);
            next_vias.push_back(f.schema + "." + f.name);
            flagged.emplace(oid, std::move(f));
        }
        names = std::move(next_names);
        reaches = std::move(next_reaches);
        vias = std::move(next_vias);
    }
    return flagged;
}

// Triggers (not the internal ones of foreign keys) whose function is flagged, listed
// under their table and under each table it is a partition or child of (at any depth): rows
// written through a parent reach it.
void read_triggers(PGconn* conn, const std::map<std::string, FlaggedRoutine>& routines,
                   std::vector<FlaggedTrigger>& out) {
    if (routines.empty()) return;
    std::vector<std::string> oids;
    oids.reserve(routines.size());
    for (const auto& [oid, r] : routines)
        oids.push_back(oid);
    Result r = exec(conn,
                    "WITH RECURSIVE trg(rel, own, tgname, tgfoid, enabled) AS ("
                    "  SELECT t.tgrelid, t.tgrelid, t.tgname, t.tgfoid, t.tgenabled <> 'D'"
                    "  FROM pg_catalog.pg_trigger t"
                    "  WHERE NOT t.tgisinternal AND t.tgfoid = ANY ($1::pg_catalog.oid[])"
                    "  UNION SELECT i.inhparent, trg.own, trg.tgname, trg.tgfoid, trg.enabled"
                    "  FROM pg_catalog.pg_inherits i JOIN trg ON i.inhrelid = trg.rel) "
                    "SELECT n.nspname, c.relname, CASE WHEN trg.rel = trg.own THEN"
                    "  trg.tgname::pg_catalog.text ELSE trg.tgname || ' of ' ||"
                    "  trg.own::pg_catalog.regclass::pg_catalog.text END,"
                    "  trg.tgfoid::pg_catalog.text, trg.enabled "
                    "FROM trg JOIN pg_catalog.pg_class c ON c.oid = trg.rel "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "ORDER BY 1, 2, 3",
                    {text_array(oids)});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        const FlaggedRoutine& f = routines.at(PQgetvalue(r.get(), i, 3));
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1),
                       PQgetvalue(r.get(), i, 2), f.schema, f.name, f.reaches,
                       std::string_view(PQgetvalue(r.get(), i, 4)) == "t"});
    }
}

// Rules of tables (a view's are its children's business) whose actions depend on one of
// `relations` or on a flagged routine.
void read_rules(PGconn* conn, const Relations& relations,
                const std::map<std::string, FlaggedRoutine>& routines,
                std::vector<FlaggedRule>& out) {
    std::vector<std::string> oids;
    oids.reserve(routines.size());
    for (const auto& [oid, r] : routines)
        oids.push_back(oid);
    std::vector<std::string> params = relations.params();
    params.push_back(text_array(oids));
    Result r = exec(conn,
                    std::string("WITH ") + Relations::kBase +
                        " SELECT DISTINCT ON (n.nspname, c.relname, w.rulename)"
                        "  n.nspname, c.relname, w.rulename, b.ord::pg_catalog.text,"
                        "  CASE WHEN d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass"
                        "    THEN d.refobjid::pg_catalog.text END "
                        "FROM pg_catalog.pg_rewrite w "
                        "JOIN pg_catalog.pg_class c ON c.oid = w.ev_class "
                        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                        "JOIN pg_catalog.pg_depend d ON d.objid = w.oid"
                        "  AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass "
                        "LEFT JOIN base b ON b.oid = d.refobjid"
                        "  AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass "
                        "WHERE w.rulename <> '_RETURN' AND c.relkind <> 'v'"
                        "  AND d.refobjid <> w.ev_class AND (b.oid IS NOT NULL OR"
                        "  (d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass"
                        "   AND d.refobjid = ANY ($3::pg_catalog.oid[]))) "
                        "ORDER BY 1, 2, 3",
                    params);
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        std::string reaches;
        if (!PQgetisnull(r.get(), i, 3)) {
            reaches = relations.reaches[relations.index(PQgetvalue(r.get(), i, 3))];
        } else {
            const FlaggedRoutine& f = routines.at(PQgetvalue(r.get(), i, 4));
            reaches = "routine " + f.schema + "." + f.name + ", which reaches " + f.reaches;
        }
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1),
                       PQgetvalue(r.get(), i, 2), std::move(reaches)});
    }
}

// Relations whose definition calls a flagged routine (RoutineUser), views of them at any depth.
void read_routine_users(PGconn* conn, const std::map<std::string, FlaggedRoutine>& routines,
                        std::vector<RoutineUser>& out) {
    if (routines.empty()) return;
    std::vector<std::string> oids;
    oids.reserve(routines.size());
    for (const auto& [oid, r] : routines)
        oids.push_back(oid);
    const std::string calls =
        " d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass"
        " AND d.refobjid = ANY ($1::pg_catalog.oid[])";
    Result r = exec(
        conn,
        "WITH RECURSIVE direct(rel, what, proc, on_read) AS ("
        "  SELECT w.ev_class, 'view'::pg_catalog.text, d.refobjid, true"
        "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid"
        "  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
        "    AND w.rulename = '_RETURN' AND" +
            calls +
            "  UNION ALL SELECT ad.adrelid, 'default of column ' || a.attname, d.refobjid, false"
            "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_attrdef ad ON ad.oid = d.objid"
            "  JOIN pg_catalog.pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum"
            "  WHERE d.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND" +
            calls +
            "  UNION ALL SELECT c.conrelid, 'constraint ' || c.conname, d.refobjid, false"
            "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_constraint c ON c.oid = d.objid"
            "  WHERE d.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass"
            "    AND c.conrelid <> 0 AND" +
            calls +
            "  UNION ALL SELECT i.indrelid, 'index ' || "
            "d.objid::pg_catalog.regclass::pg_catalog.text,"
            "    d.refobjid, false"
            "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_index i ON i.indexrelid = d.objid"
            "  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND" +
            calls +
            "  UNION ALL SELECT p.polrelid, 'policy ' || p.polname, d.refobjid, true"
            "  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_policy p ON p.oid = d.objid"
            "  WHERE d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND" +
            calls +
            "), "
            "users(rel, what, proc, on_read) AS ("
            "  SELECT * FROM direct"
            "  UNION SELECT w.ev_class, 'view of ' || u.rel::pg_catalog.regclass::pg_catalog.text,"
            "    u.proc, true"
            "  FROM users u JOIN pg_catalog.pg_depend d ON d.refobjid = u.rel"
            "    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
            "    AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
            "  JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid"
            "  WHERE u.on_read AND w.rulename = '_RETURN' AND w.ev_class <> u.rel) "
            "SELECT DISTINCT ON (n.nspname, c.relname, u.on_read) n.nspname, c.relname, u.what,"
            "  u.proc::pg_catalog.text, u.on_read "
            "FROM users u JOIN pg_catalog.pg_class c ON c.oid = u.rel "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "ORDER BY n.nspname, c.relname, u.on_read DESC, u.what",
        {text_array(oids)});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        const FlaggedRoutine& f = routines.at(PQgetvalue(r.get(), i, 3));
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1),
                       PQgetvalue(r.get(), i, 2), f.schema, f.name, f.reaches,
                       std::string_view(PQgetvalue(r.get(), i, 4)) == "t"});
    }
}

// Foreign keys of the audited tables and their partitions and children (each declared one
// once: not the copies PostgreSQL makes for partitions).
void read_foreign_keys(PGconn* conn, const Relations& tables, std::vector<ForeignKeyLink>& out) {
    Result r = exec(conn,
                    std::string("WITH ") + Relations::kBase +
                        " SELECT con.conname, n.nspname, c.relname, fn.nspname, fc.relname,"
                        "  con.confdeltype, con.confupdtype "
                        "FROM pg_catalog.pg_constraint con "
                        "JOIN pg_catalog.pg_class c ON c.oid = con.conrelid "
                        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                        "JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid "
                        "JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace "
                        "WHERE con.contype = 'f' AND con.conparentid = 0"
                        "  AND con.conrelid IN (SELECT oid FROM base) "
                        "ORDER BY 2, 3, 1",
                    tables.params());
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1),
                       PQgetvalue(r.get(), i, 2), PQgetvalue(r.get(), i, 3),
                       PQgetvalue(r.get(), i, 4), PQgetvalue(r.get(), i, 5)[0],
                       PQgetvalue(r.get(), i, 6)[0]});
    }
}

// Tables that the audited tables reference by foreign key, at any depth: TRUNCATE ... CASCADE
// of one truncates the tables referencing it, and so on down to the audited table.
void read_truncate_reaches(PGconn* conn, const Relations& tables, std::vector<TruncateReach>& out) {
    Result r = exec(conn,
                    std::string("WITH RECURSIVE ") + Relations::kBase +
                        ", up(oid, ord) AS ("
                        "  SELECT con.confrelid, b.ord FROM pg_catalog.pg_constraint con"
                        "  JOIN base b ON con.conrelid = b.oid WHERE con.contype = 'f'"
                        "  UNION SELECT con.confrelid, u.ord FROM pg_catalog.pg_constraint con"
                        "  JOIN up u ON con.conrelid = u.oid WHERE con.contype = 'f') "
                        "SELECT DISTINCT ON (n.nspname, c.relname) n.nspname, c.relname,"
                        "  up.ord::pg_catalog.text "
                        "FROM up JOIN pg_catalog.pg_class c ON c.oid = up.oid "
                        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE up.oid NOT IN (SELECT oid FROM base WHERE oid IS NOT NULL) "
                        "ORDER BY 1, 2, 3",
                    tables.params());
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1),
                       tables.audited[tables.index(PQgetvalue(r.get(), i, 2))]});
    }
}

}  // namespace

void read_server_side_code(PGconn* conn, const std::vector<config::AuditedTable>& configured,
                           CatalogLinks& links) {
    Relations reached = audited_relations(configured, links, {true, true, true});
    auto routines = read_routines(conn, reached);
    for (const auto& [oid, r] : routines)
        links.routines.push_back(r);
    read_triggers(conn, routines, links.triggers);
    read_rules(conn, reached, routines, links.rules);
    read_routine_users(conn, routines, links.routine_users);
    // The tables that hold audited rows themselves.
    Relations rows = audited_relations(configured, links, {});
    read_foreign_keys(conn, rows, links.foreign_keys);
    read_truncate_reaches(conn, rows, links.truncate_reaches);
}

}  // namespace pgrev::audit
