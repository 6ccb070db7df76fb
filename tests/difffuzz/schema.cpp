#include "schema.h"

namespace pgrev::difffuzz {

bool Table::has_key() const {
    for (const Column& c : columns)
        if (c.key) return true;
    return false;
}

const std::vector<Table>& audited_tables() {
    using K = ColKind;
    static const std::vector<Table> tables = {
        {"public",
         "acct",
         {{"id", K::Int, true, true, true},
          {"name", K::Text, false, true, false},
          {"qty", K::Int, false, false, true},
          {"note", K::Text, false, false, true},
          {"price", K::Numeric, false, false, false}},
         true},
        {"public",
         "pair",
         {{"a", K::Int, true, true}, {"b", K::Text, true, true}, {"v", K::Int}},
         false},
        {"public",
         "loose",
         {{"x", K::Int}, {"y", K::Text}, {"z", K::Int, false, false, true}},
         false},
        {"public",
         "gen",
         {{"id", K::Int, true, true}, {"w", K::Int}, {"doubled", K::Generated}},
         false},
        {"public", "trig", {{"id", K::Int, true, true}, {"label", K::Text}, {"n", K::Int}}, false},
        {"public",
         "dom",
         {{"id", K::Int, true, true}, {"code", K::Code, false, false, true}, {"amt", K::Int}},
         false},
        {"public",
         "MixedCase",
         {{"Id", K::Int, true, true}, {"Val", K::Text}, {"select", K::Int}},
         false},
        {"other", "item", {{"id", K::Int, true, true}, {"name", K::Text}, {"qty", K::Int}}, false},
    };
    return tables;
}

std::string drop_schema_sql() {
    return "DROP EVENT TRIGGER IF EXISTS fuzz_ddl_end; DROP SCHEMA IF EXISTS other CASCADE; "
           "DROP SCHEMA IF EXISTS other2 CASCADE; "
           "DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public";
}

std::string schema_sql() {
    return R"sql(
CREATE SCHEMA other;
CREATE DOMAIN fuzz_code AS text DEFAULT 'dflt' CHECK (VALUE <> 'bad');
CREATE TABLE acct (id serial PRIMARY KEY, name text NOT NULL, qty int DEFAULT 7,
                   note text DEFAULT 'none', price numeric(8,2));
CREATE TABLE pair (a int, b text, v int, PRIMARY KEY (a, b));
CREATE TABLE loose (x int, y text, z int DEFAULT 0);
CREATE TABLE gen (id int PRIMARY KEY, w int, doubled int GENERATED ALWAYS AS (w * 2) STORED);
CREATE TABLE trig (id int PRIMARY KEY, label text, n int);
CREATE FUNCTION trig_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.label := upper(NEW.label);
    NEW.n := coalesce(NEW.n, 0) + 100;
    RETURN NEW;
END $$;
CREATE TRIGGER trig_touch BEFORE INSERT OR UPDATE ON trig
    FOR EACH ROW EXECUTE FUNCTION trig_touch();
CREATE TABLE dom (id int PRIMARY KEY, code fuzz_code, amt int);
CREATE TABLE "MixedCase" ("Id" int PRIMARY KEY, "Val" text, "select" int);
CREATE TABLE other.item (id int PRIMARY KEY, name text UNIQUE, qty int CHECK (qty >= 0));
CREATE TABLE plain (id int PRIMARY KEY, v int);
INSERT INTO plain SELECT g, g * 10 FROM generate_series(1, 6) g;

-- The audited tables by oid, so renames of columns do not lose them.
CREATE TABLE fuzz_tables (ord int PRIMARY KEY, rel regclass NOT NULL);
INSERT INTO fuzz_tables VALUES (1, 'acct'), (2, 'pair'), (3, 'loose'), (4, 'gen'),
    (5, 'trig'), (6, 'dom'), (7, '"MixedCase"'), (8, 'other.item');

CREATE FUNCTION fuzz_rev_name(t regclass) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT format('%I.%I', n.nspname, c.relname || '_rev')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = t
$$;

-- Every table and every revision table as text: the table's rows sorted; the revisions
-- without rev_id and rev_created, per key in the order they were made (rev_created), or
-- sorted for a table without a key. Revision columns are the table's current columns.
CREATE FUNCTION fuzz_snapshot() RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    t regclass; cols text; keys text; part text; result text := '';
BEGIN
    FOR t IN SELECT rel FROM fuzz_tables ORDER BY ord LOOP
        EXECUTE format('SELECT coalesce(string_agg(r::text, E''\n'' ORDER BY r::text), '''') '
                       'FROM %s r', t) INTO part;
        result := result || '== ' || t::text || E'\n' || part || E'\n';
        -- A column the revision table does not have (yet) reads as NULL, and one it has with
        -- the table's former type reads as the table's type: pgrev adds or converts it only
        -- when the table is next written.
        SELECT string_agg(CASE WHEN EXISTS (SELECT 1 FROM pg_attribute r
                                            WHERE r.attrelid = fuzz_rev_name(t)::regclass
                                            AND r.attname = a.attname AND NOT r.attisdropped)
                               THEN quote_ident(a.attname) || '::' ||
                                    format_type(a.atttypid, a.atttypmod)
                               ELSE 'NULL' END, ', '
                          ORDER BY a.attnum) INTO cols
        FROM pg_attribute a WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped;
        SELECT string_agg(quote_ident(a.attname), ', '
                          ORDER BY array_position(i.indkey::int2[], a.attnum)) INTO keys
        FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
        WHERE i.indrelid = t AND i.indisprimary;
        BEGIN
            IF keys IS NULL THEN
                EXECUTE format('SELECT coalesce(string_agg(v, E''\n'' ORDER BY v), '''') FROM '
                               '(SELECT row(rev_isdelete, %s)::text v FROM %s) s',
                               cols, fuzz_rev_name(t)) INTO part;
            ELSE
                EXECUTE format('SELECT coalesce(string_agg(k || '': '' || v, E''\n'' ORDER BY k), '
                               ''''') FROM (SELECT row(%s)::text k, string_agg(row(rev_isdelete, '
                               '%s)::text, '' / '' ORDER BY rev_created) v FROM %s GROUP BY 1) s',
                               keys, cols, fuzz_rev_name(t)) INTO part;
            END IF;
        EXCEPTION WHEN others THEN
            part := 'cannot read the revisions: ' || SQLERRM;
        END;
        result := result || '== ' || fuzz_rev_name(t) || E'\n' || part || E'\n';
    END LOOP;
    RETURN result;
END $f$;
)sql";
}

std::string model_sql() {
    return R"sql(
-- What pgrev creates: rev_id, rev_created, rev_isdelete, then the table's columns.
CREATE FUNCTION fuzz_make_rev(t regclass) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE cols text;
BEGIN
    SELECT string_agg(format('%I %s', attname, format_type(atttypid, atttypmod)), ', '
                      ORDER BY attnum) INTO cols
    FROM pg_attribute WHERE attrelid = t AND attnum > 0 AND NOT attisdropped;
    EXECUTE format('CREATE TABLE %s (rev_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), '
                   'rev_created double precision NOT NULL, '
                   'rev_isdelete boolean NOT NULL DEFAULT false, %s)', fuzz_rev_name(t), cols);
END $f$;

-- After DDL: a column the table gained (or a new name) is added to its _rev, and a changed
-- type is followed, so the model records what the table stores.
CREATE FUNCTION fuzz_sync_rev(t regclass) RETURNS void LANGUAGE plpgsql AS $f$
DECLARE col record; rev regclass := fuzz_rev_name(t)::regclass; have text;
BEGIN
    FOR col IN SELECT attname, format_type(atttypid, atttypmod) AS type FROM pg_attribute
               WHERE attrelid = t AND attnum > 0 AND NOT attisdropped LOOP
        SELECT format_type(atttypid, atttypmod) INTO have FROM pg_attribute
        WHERE attrelid = rev AND attname = col.attname AND NOT attisdropped;
        IF have IS NULL THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', rev, col.attname, col.type);
        ELSIF have <> col.type THEN
            EXECUTE format('ALTER TABLE %s ALTER COLUMN %I TYPE %s USING %I::%s', rev,
                           col.attname, col.type, col.attname, col.type);
        END IF;
    END LOOP;
END $f$;

CREATE FUNCTION fuzz_ddl_end() RETURNS event_trigger LANGUAGE plpgsql AS $f$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT rel FROM fuzz_tables ORDER BY ord LOOP
        PERFORM fuzz_sync_rev(t);
    END LOOP;
END $f$;

-- The revision pgrev would write: the row as stored; for DELETE the key columns and NULL
-- elsewhere, or the whole row when the table has no primary key.
CREATE FUNCTION fuzz_rev() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE cols text; vals text; keyed boolean; is_delete boolean := TG_OP = 'DELETE';
BEGIN
    SELECT EXISTS (SELECT 1 FROM pg_index WHERE indrelid = TG_RELID AND indisprimary)
        INTO keyed;
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg(CASE WHEN is_delete AND keyed AND NOT EXISTS (
                               SELECT 1 FROM pg_index i WHERE i.indrelid = TG_RELID
                               AND i.indisprimary AND a.attnum = ANY (i.indkey))
                           THEN 'NULL' ELSE '($1).' || quote_ident(a.attname) END, ', '
                      ORDER BY a.attnum)
        INTO cols, vals
    FROM pg_attribute a WHERE a.attrelid = TG_RELID AND a.attnum > 0 AND NOT a.attisdropped;
    IF is_delete THEN
        EXECUTE format('INSERT INTO %s (rev_created, rev_isdelete, %s) SELECT '
                       'extract(epoch FROM clock_timestamp()), true, %s',
                       fuzz_rev_name(TG_RELID), cols, vals) USING OLD;
    ELSE
        EXECUTE format('INSERT INTO %s (rev_created, rev_isdelete, %s) SELECT '
                       'extract(epoch FROM clock_timestamp()), false, %s',
                       fuzz_rev_name(TG_RELID), cols, vals) USING NEW;
    END IF;
    RETURN NULL;
END $f$;

DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT rel FROM fuzz_tables ORDER BY ord LOOP
        PERFORM fuzz_make_rev(t);
        EXECUTE format('CREATE TRIGGER zz_fuzz_rev AFTER INSERT OR UPDATE OR DELETE ON %s '
                       'FOR EACH ROW EXECUTE FUNCTION fuzz_rev()', t);
    END LOOP;
END $$;
CREATE EVENT TRIGGER fuzz_ddl_end ON ddl_command_end WHEN TAG IN ('ALTER TABLE')
    EXECUTE FUNCTION fuzz_ddl_end();
)sql";
}

std::string reset_rows_sql() {
    return R"sql(
TRUNCATE acct, pair, loose, gen, trig, dom, "MixedCase", other.item RESTART IDENTITY;
INSERT INTO acct (name, qty, price) VALUES ('ann', 1, 1.50), ('bob', 2, NULL), ('cy', 3, 9.99);
INSERT INTO pair VALUES (1, 'x', 10), (1, 'y', 11), (2, 'x', 20);
INSERT INTO loose VALUES (1, 'one', 1), (2, 'two', 2), (2, 'two', 2), (NULL, NULL, NULL);
INSERT INTO gen (id, w) VALUES (1, 5), (2, NULL), (3, 7);
INSERT INTO trig (id, label) VALUES (1, 'first'), (2, 'second');
INSERT INTO dom VALUES (1, 'ok', 10), (2, DEFAULT, 20), (3, NULL, NULL);
INSERT INTO "MixedCase" VALUES (1, 'One', 1), (2, 'Two', 2);
INSERT INTO other.item VALUES (1, 'pen', 3), (2, 'ink', 0);
DO $$
DECLARE t regclass;
BEGIN
    FOR t IN SELECT rel FROM fuzz_tables ORDER BY ord LOOP
        EXECUTE 'TRUNCATE ' || fuzz_rev_name(t);
    END LOOP;
END $$;
)sql";
}

std::string audit_yaml() {
    return "{tables: [acct, pair, loose, gen, trig, dom, '\"MixedCase\"', other.item]}";
}

}  // namespace pgrev::difffuzz
