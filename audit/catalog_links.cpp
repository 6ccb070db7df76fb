// What the loader reads besides the tables themselves (catalog_query.h): the links through
// which statements reach audited and revision tables without naming them, and what could
// divert revisions as they are written.
#include <fmt/format.h>

#include <string_view>

#include "audit/catalog_query.h"

namespace pgrev::audit {

namespace {

using Result = QueryResult;

Result exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params = {}) {
    return catalog_exec(conn, sql, params);
}

}  // namespace

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        out += i == 0 ? "\"" : ",\"";
        for (char c : items[i]) {
            if (c == '"' || c == '\\') out.push_back('\\');
            out.push_back(c);
        }
        out += "\"";
    }
    return out + "}";
}

// Ancestors (parents at any depth) of `table` and of its descendants, other than the table
// and its descendants themselves.
void read_ancestors(PGconn* conn, const std::string& schema, const std::string& name, bool of_rev,
                    std::vector<AncestorTable>& out) {
    Result r = exec(conn,
                    "WITH RECURSIVE down(oid) AS ("
                    "  SELECT pg_catalog.to_regclass(pg_catalog.quote_ident($1) || '.' ||"
                    "    pg_catalog.quote_ident($2))::pg_catalog.oid"
                    "  UNION SELECT i.inhrelid FROM pg_catalog.pg_inherits i"
                    "  JOIN down d ON i.inhparent = d.oid), "
                    "up(oid) AS ("
                    "  SELECT i.inhparent FROM pg_catalog.pg_inherits i"
                    "  JOIN down d ON i.inhrelid = d.oid"
                    "  UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i"
                    "  JOIN up u ON i.inhrelid = u.oid) "
                    "SELECT n.nspname, c.relname, c.relkind = 'p' FROM up "
                    "JOIN pg_catalog.pg_class c ON c.oid = up.oid "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE up.oid NOT IN (SELECT oid FROM down)",
                    {schema, name});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1), schema + "." + name,
                       of_rev, std::string_view(PQgetvalue(r.get(), i, 2)) == "t"});
    }
}

// Views (at any depth, through other views and materialized views) of the relations
// `schemas[i].names[i]`: writes to a view reach the tables it reads, by PostgreSQL's own
// rewrite or by its rules. One query, however many partitions a table has.
void read_views(PGconn* conn, const std::vector<std::string>& schemas,
                const std::vector<std::string>& names, const std::string& reached,
                std::vector<ChildTable>& out) {
    Result r = exec(conn,
                    "WITH RECURSIVE base(oid) AS ("
                    "  SELECT pg_catalog.to_regclass(pg_catalog.quote_ident(s) || '.' ||"
                    "    pg_catalog.quote_ident(n))::pg_catalog.oid"
                    "  FROM ROWS FROM (pg_catalog.unnest($1::text[]),"
                    "    pg_catalog.unnest($2::text[])) AS u(s, n)), "
                    "v(oid) AS ("
                    "  SELECT w.ev_class FROM pg_catalog.pg_depend d"
                    "  JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid"
                    "  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
                    "    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                    "    AND d.refobjid IN (SELECT oid FROM base) AND w.ev_class <> d.refobjid"
                    "  UNION SELECT w.ev_class FROM pg_catalog.pg_depend d"
                    "  JOIN pg_catalog.pg_rewrite w ON w.oid = d.objid"
                    "  JOIN v ON d.refobjid = v.oid"
                    "  WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass"
                    "    AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass"
                    "    AND w.ev_class <> d.refobjid) "
                    "SELECT n.nspname, c.relname FROM v "
                    "JOIN pg_catalog.pg_class c ON c.oid = v.oid "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'v'",
                    {text_array(schemas), text_array(names)});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        out.push_back({PQgetvalue(r.get(), i, 0), PQgetvalue(r.get(), i, 1), reached, true});
    }
}

// Every object the revision table depends on, at any depth, that is not built in (oids below
// 16384, which cannot be dropped): DROP ... CASCADE of any of them would reach the history.
void read_rev_dependencies(PGconn* conn, const std::string& schema, const std::string& rev,
                           std::vector<RevDependency>& out) {
    Result r =
        exec(conn,
             "WITH RECURSIVE deps(classid, objid) AS ("
             "  SELECT d.refclassid, d.refobjid FROM pg_catalog.pg_depend d"
             "  WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = "
             "    pg_catalog.to_regclass(pg_catalog.quote_ident($1) || '.' ||"
             "    pg_catalog.quote_ident($2)) AND d.refobjid >= 16384"
             // What an object depends on, and what its internal parts (a composite type's
             // relation, say) depend on: dropping those changes the object too.
             "  UNION SELECT"
             "    CASE WHEN d.classid = deps.classid AND d.objid = deps.objid"
             "      THEN d.refclassid ELSE d.classid END,"
             "    CASE WHEN d.classid = deps.classid AND d.objid = deps.objid"
             "      THEN d.refobjid ELSE d.objid END"
             "  FROM pg_catalog.pg_depend d JOIN deps ON"
             "    (d.classid = deps.classid AND d.objid = deps.objid AND d.refobjid >= 16384) OR"
             "    (d.refclassid = deps.classid AND d.refobjid = deps.objid AND d.deptype = 'i')) "
             "SELECT o.type, COALESCE(o.schema, ''), CASE deps.classid"
             "  WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN"
             "    (SELECT typname::text FROM pg_catalog.pg_type WHERE oid = deps.objid)"
             "  WHEN 'pg_catalog.pg_collation'::pg_catalog.regclass THEN"
             "    (SELECT collname::text FROM pg_catalog.pg_collation WHERE oid = deps.objid)"
             "  WHEN 'pg_catalog.pg_namespace'::pg_catalog.regclass THEN"
             "    (SELECT nspname::text FROM pg_catalog.pg_namespace WHERE oid = deps.objid)"
             "  WHEN 'pg_catalog.pg_extension'::pg_catalog.regclass THEN"
             "    (SELECT extname::text FROM pg_catalog.pg_extension WHERE oid = deps.objid)"
             "  WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN"
             "    (SELECT proname::text FROM pg_catalog.pg_proc WHERE oid = deps.objid)"
             "  WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN"
             "    (SELECT relname::text FROM pg_catalog.pg_class WHERE oid = deps.objid)"
             "  END "
             "FROM deps, LATERAL pg_catalog.pg_identify_object(deps.classid, deps.objid, 0) o",
             {schema, rev});
    for (int i = 0; i < PQntuples(r.get()); ++i) {
        if (PQgetisnull(r.get(), i, 2)) continue;
        std::string kind = PQgetvalue(r.get(), i, 0);
        std::string name = PQgetvalue(r.get(), i, 2);
        // Its own schema is guarded with the table (DROP SCHEMA ... CASCADE); kept out of the
        // list so that every statement naming the schema is not parsed for it.
        if (kind == "schema" && name == schema) continue;
        out.push_back({kind, PQgetvalue(r.get(), i, 1), name, schema + "." + rev});
    }
}

// A relation under the revision table's name that is not an ordinary table (a view, say, whose
// rules or triggers could take the revisions elsewhere): empty when there is none, or it is one.
std::string rev_relation_kind_problem(PGconn* conn, const AuditedTableInfo& info) {
    Result r = exec(conn,
                    "SELECT c.relkind FROM pg_catalog.pg_class c "
                    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = $1 AND c.relname = $2",
                    {info.schema, info.rev_name()});
    if (PQntuples(r.get()) == 0) return {};
    std::string kind = PQgetvalue(r.get(), 0, 0);
    if (kind == "r") return {};
    return fmt::format(
        "{}.{} is not an ordinary table (pg_class.relkind '{}'), so it cannot be the revision "
        "table of {}.{}: drop or rename it on PostgreSQL",
        info.schema, info.rev_name(), kind, info.schema, info.name);
}

// An owner other than the table's (or a superuser) could add what takes revisions away: empty
// when the owner is one of those.
std::string rev_owner_problem(PGconn* conn, const AuditedTableInfo& info,
                              const std::string& table_owner) {
    Result r = exec(
        conn,
        "SELECT pg_catalog.pg_get_userbyid(c.relowner), "
        "  (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = c.relowner) "
        "FROM pg_catalog.pg_class c WHERE c.oid = "
        "  (pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2))::pg_catalog.regclass",
        {info.schema, info.rev_name()});
    if (PQntuples(r.get()) == 0) return {};
    std::string owner = PQgetvalue(r.get(), 0, 0);
    if (owner == table_owner || std::string_view(PQgetvalue(r.get(), 0, 1)) == "t") return {};
    return fmt::format(
        "revision table {}.{} is owned by {}, not by {}.{}'s owner {} (or a superuser), who "
        "could change what it keeps: give it to the table's owner on PostgreSQL",
        info.schema, info.rev_name(), owner, info.schema, info.name, table_owner);
}

// What could take revisions away as they are written: a rule, or a trigger that fires on
// INSERT (a BEFORE trigger returning NULL drops the row). Empty when there is none.
std::string rev_diversion_problem(PGconn* conn, const AuditedTableInfo& info) {
    Result r = exec(
        conn,
        "SELECT "
        "  (SELECT pg_catalog.string_agg(w.rulename::text, ', ') FROM pg_catalog.pg_rewrite w"
        "   WHERE w.ev_class = c.oid), "
        "  (SELECT pg_catalog.string_agg(t.tgname::text, ', ') FROM pg_catalog.pg_trigger t"
        "   WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled <> 'D'"
        "     AND (t.tgtype::int & 4) <> 0) "
        "FROM pg_catalog.pg_class c WHERE c.oid = "
        "  (pg_catalog.quote_ident($1) || '.' || pg_catalog.quote_ident($2))::pg_catalog.regclass",
        {info.schema, info.rev_name()});
    if (PQntuples(r.get()) == 0) return {};
    std::string rev = info.schema + "." + info.rev_name();
    if (!PQgetisnull(r.get(), 0, 0)) {
        return fmt::format(
            "revision table {} has rules ({}), which can take revisions elsewhere: "
            "drop them on PostgreSQL",
            rev, PQgetvalue(r.get(), 0, 0));
    }
    if (!PQgetisnull(r.get(), 0, 1)) {
        return fmt::format(
            "revision table {} has triggers on INSERT ({}), which can drop or change revisions: "
            "drop or disable them on PostgreSQL",
            rev, PQgetvalue(r.get(), 0, 1));
    }
    return {};
}

}  // namespace pgrev::audit
