#!/usr/bin/env python3
"""psycopg2 through pgrev: libpq's simple query protocol (psycopg2 interpolates the
parameters into the text itself), so every statement pgrev sees is a 'Q' message.

Covers parameters of many types and awkward text, cursor.rowcount, statusmessage and the
column types, executemany, execute_batch (several statements in one Query), execute_values,
RETURNING, data-modifying CTEs, ON CONFLICT, quoted, qualified and upper-case table names,
SQL-level PREPARE/EXECUTE/DEALLOCATE (a name reused for a plain table, CREATE TABLE AS
EXECUTE), errors and their positions (also in the middle of a Query), a rolled-back
transaction and a savepoint rolled back inside a committed one (no revisions for what did
not commit), BEFORE triggers that change rows, skip a delete and raise notices, COPY out, a
server-side (named) cursor, and pgrev's refusal of COPY FROM on the audited table. Every
observation is compared with the same scenario run directly.
"""

import datetime
import io

import psycopg2
import psycopg2.errors
import psycopg2.extras
from psycopg2 import sql as pgsql

from driver_common import (UPSTREAM_SSL, check, check_equal, check_legs, dsn, expect_equal, log,
                           main, params, rev_count, run_differential, sql, value)

INSERT = "INSERT INTO reservation (name, date, time, party) VALUES (%s, %s, %s, %s)"


def scenario(run):
    conn = psycopg2.connect(dsn(run.target, application_name="pgrev-driver-psycopg2"))
    conn.autocommit = True
    cur = conn.cursor()

    def see(label):
        rows = cur.fetchall() if cur.description is not None else None
        columns = [(d.name, d.type_code) for d in cur.description or []]
        run.see(label, rowcount=cur.rowcount, status=cur.statusmessage, rows=rows,
                columns=columns)

    def error(label, exc):
        diag = exc.diag
        run.see(label, sqlstate=exc.pgcode, message=diag.message_primary,
                position=diag.statement_position, cls=type(exc).__name__)

    # INSERT with parameters of several types.
    cur.execute(INSERT, ("Steve", datetime.date(2015, 4, 15), datetime.time(19, 0), 6))
    see("insert")
    run.revs("insert", "w")

    cur.execute(INSERT + " RETURNING id, name, party, last_modified IS NOT NULL",
                ("Phil", datetime.date(2015, 5, 1), datetime.time(18, 30), 3))
    see("insert returning")
    run.revs("insert returning", "w")

    # Awkward text: quotes, backslashes, non-ASCII, NULLs, a name that looks like SQL.
    cur.execute(INSERT, ("O'Brien \\ \"q\" Zoë 🎉; DELETE FROM reservation", None, None, None))
    see("insert awkward text")
    run.revs("insert awkward text", "w")

    # executemany: one Query per parameter set; psycopg2 adds up the row counts.
    guests = [(f"Guest {i}", datetime.date(2015, 6, i), datetime.time(12, i), i) for i in
              range(1, 5)]
    cur.executemany(INSERT, guests)
    see("executemany insert")
    run.revs("executemany insert", "wwww")

    # execute_values: one multi-row INSERT.
    psycopg2.extras.execute_values(
        cur, "INSERT INTO reservation (name, party) VALUES %s RETURNING id, name",
        [("Values A", 2), ("Values B", 5), ("Values C", 8)], fetch=True)
    run.see("execute_values", rowcount=cur.rowcount, status=cur.statusmessage)
    run.revs("execute_values", "www")

    # execute_batch: pages of statements joined by ';', each page one Query.
    psycopg2.extras.execute_batch(
        cur, "UPDATE reservation SET party = %s WHERE name = %s",
        [(10, "Values A"), (11, "Values B"), (12, "Values C"), (13, "nobody")], page_size=3)
    see("execute_batch update")
    run.revs("execute_batch update", "www")

    # UPDATE of several rows, of one row with RETURNING, of none.
    cur.execute("UPDATE reservation SET party = party + %s WHERE party >= %s", (1, 3))
    see("update many")
    run.revs("update many", "w" * 7)

    cur.execute("UPDATE reservation AS r SET party = %s WHERE r.id = %s "
                "RETURNING r.id, r.party * 2 AS double, r.name", (4, 1))
    see("update returning")
    run.revs("update returning", "w")

    cur.execute("UPDATE reservation SET party = 0 WHERE name = %s", ("nobody",))
    see("update none")
    run.no_revs("update none")

    # DELETE with RETURNING *, and of several rows.
    cur.execute("DELETE FROM reservation WHERE id = %s RETURNING *", (2,))
    see("delete returning *")
    run.revs("delete returning *", "d")

    cur.execute("DELETE FROM reservation WHERE name LIKE %s", ("Guest%",))
    see("delete many")
    run.revs("delete many", "dddd")

    # Several statements in one execute (one Query): the last one's count and tag.
    cur.execute("UPDATE reservation SET party = 7 WHERE id = 1; "
                "INSERT INTO reservation (name) VALUES ('multi'); "
                "DELETE FROM reservation WHERE name = 'multi'")
    see("three statements in one query")
    run.revs("three statements in one query", "wwd")

    # A data-modifying CTE of the user's own, and ON CONFLICT in both directions.
    cur.execute("WITH u AS (UPDATE reservation SET party = party + 1 WHERE id = %s "
                "RETURNING id) SELECT count(*) FROM u", (1,))
    see("user CTE")
    run.revs("user CTE", "w")

    upsert = ("INSERT INTO reservation (id, name, party) VALUES (%s, %s, %s) "
              "ON CONFLICT (id) DO UPDATE SET party = excluded.party RETURNING id, party")
    cur.execute(upsert, (1, "Steve", 5))
    see("upsert existing")
    run.revs("upsert existing", "w")
    cur.execute(upsert, (1000, "Explicit", 1))
    see("upsert new")
    run.revs("upsert new", "w")
    cur.execute("INSERT INTO reservation (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (1, "ignored"))
    see("insert on conflict do nothing")
    run.no_revs("insert on conflict do nothing")

    # SQL-level PREPARE/EXECUTE, a name deallocated and used again for a plain statement.
    cur.execute("PREPARE bump(int, int) AS "
                "UPDATE reservation SET party = party + $1 WHERE id = $2 RETURNING party")
    cur.execute("EXECUTE bump(%s, %s)", (1, 1))
    see("execute prepared")
    cur.execute("EXECUTE bump(%s, %s)", (1, 1))
    see("execute prepared again")
    run.revs("execute prepared", "ww")
    cur.execute("DEALLOCATE bump")
    cur.execute("CREATE TEMP TABLE counter (n int)")
    cur.execute("INSERT INTO counter VALUES (1), (2)")
    cur.execute("PREPARE bump(int, int) AS UPDATE counter SET n = n + $1 WHERE n <> $2")
    cur.execute("EXECUTE bump(%s, %s)", (1, 0))
    see("execute reused name, plain table")
    run.no_revs("execute reused name, plain table")
    cur.execute("DEALLOCATE ALL")
    # CREATE TABLE AS EXECUTE wants a SELECT: an UPDATE ... RETURNING is refused.
    cur.execute("PREPARE bump(int) AS UPDATE reservation SET party = $1 WHERE id = 1 "
                "RETURNING id")
    try:
        cur.execute("CREATE TEMP TABLE bumped AS EXECUTE bump(%s)", (9,))
        see("create table as execute update")
    except psycopg2.Error as exc:
        error("create table as execute update", exc)
    cur.execute("SELECT party FROM reservation WHERE id = 1")
    see("after create table as execute update")
    run.skip_revs()  # whatever happened must be recorded: verify_history checks it at the end
    cur.execute("UPDATE reservation SET party = 7 WHERE id = 1")  # the same again both ways
    run.revs("reset party", "w")
    cur.execute("DEALLOCATE ALL")

    # Quoted, schema-qualified and upper-case names of the audited table.
    cur.execute(pgsql.SQL("UPDATE {} SET {} = {} + 1 WHERE {} = %s").format(
        pgsql.Identifier("public", "reservation"), pgsql.Identifier("party"),
        pgsql.Identifier("party"), pgsql.Identifier("id")), (1,))
    see("quoted qualified names")
    run.revs("quoted qualified names", "w")
    cur.execute("DELETE FROM PUBLIC.RESERVATION WHERE ID = %s", (1000,))
    see("upper-case names")
    run.revs("upper-case names", "d")

    # An error in the middle of one Query: the statements before it roll back too (one
    # implicit transaction), those after it do not run.
    try:
        cur.execute("UPDATE reservation SET party = 0 WHERE id = 1; SELECT 1 / 0; "
                    "DELETE FROM reservation WHERE id = 1")
        run.see("error inside a query", unexpected="no error")
    except psycopg2.Error as exc:
        error("error inside a query", exc)
    run.no_revs("error inside a query")
    cur.execute("SELECT id, party FROM reservation WHERE id = 1")
    see("after error inside a query")

    # Errors: the same SQLSTATE, message and position as directly; nothing recorded.
    try:
        cur.execute("UPDATE reservation SET party = nosuchcolumn WHERE id = %s", (1,))
        run.see("unknown column", unexpected="no error")
    except psycopg2.Error as exc:
        error("unknown column", exc)
    try:
        cur.execute("INSERT INTO reservation (id, name) VALUES (%s, %s)", (1, "duplicate"))
        run.see("duplicate key", unexpected="no error")
    except psycopg2.Error as exc:
        error("duplicate key", exc)
    try:
        cur.execute("UPDATE reservation SET name = NULL WHERE id = %s", (1,))
        run.see("not null", unexpected="no error")
    except psycopg2.Error as exc:
        error("not null", exc)
    run.no_revs("failed statements")

    # A transaction rolled back: the driver sees counts, the history sees nothing.
    conn.autocommit = False
    cur.execute(INSERT, ("Rolled back", None, None, 2))
    see("tx insert")
    cur.execute("UPDATE reservation SET party = party * 10")
    see("tx update all")
    cur.execute("DELETE FROM reservation WHERE id = %s", (1,))
    see("tx delete")
    conn.rollback()
    run.no_revs("rolled back transaction")

    # An error inside a transaction: the block fails, as directly.
    cur.execute("UPDATE reservation SET party = 1 WHERE id = %s", (1,))
    try:
        cur.execute("UPDATE reservation SET party = party / %s WHERE id = %s", (0, 1))
        run.see("division by zero", unexpected="no error")
    except psycopg2.Error as exc:
        error("division by zero", exc)
    try:
        cur.execute("SELECT 1")
        run.see("in failed transaction", unexpected="no error")
    except psycopg2.Error as exc:
        error("in failed transaction", exc)
    conn.rollback()
    run.no_revs("failed transaction")

    # A committed transaction with a savepoint rolled back in the middle.
    cur.execute("UPDATE reservation SET party = 20 WHERE id = %s", (1,))
    see("sp update")
    cur.execute("SAVEPOINT before_delete")
    cur.execute("DELETE FROM reservation WHERE id = %s", (1,))
    see("sp delete")
    cur.execute("ROLLBACK TO SAVEPOINT before_delete")
    cur.execute(INSERT + " RETURNING id", ("After savepoint", None, None, 1))
    see("sp insert")
    run.no_revs("before commit")
    conn.commit()
    run.revs("savepoint transaction", "ww")

    # A server-side cursor (DECLARE/FETCH) and COPY out.
    named = conn.cursor("reservations")
    named.itersize = 2
    named.execute("SELECT id, name, party FROM reservation ORDER BY id")
    run.see("named cursor", rows=list(named))
    named.close()
    conn.commit()
    conn.autocommit = True

    sink = io.BytesIO()
    cur.copy_expert("COPY reservation (id, name, date, time, party) TO STDOUT", sink)
    run.see("copy out", data=sink.getvalue().decode(), status=cur.statusmessage)

    # Non-audited (temporary) table: normal tags, no revisions.
    cur.execute("CREATE TEMP TABLE note (id int PRIMARY KEY, body text)")
    cur.execute("INSERT INTO note VALUES (1, 'a'), (2, 'b')")
    see("plain insert")
    cur.execute("UPDATE note SET body = body || '!'")
    see("plain update")
    cur.execute("DELETE FROM note")
    see("plain delete")
    run.no_revs("plain table")

    cur.execute("SELECT id, name, date, time, party FROM reservation ORDER BY id")
    see("final table")
    conn.close()


def copy_from_is_refused():
    """COPY FROM would change the audited table without revisions: pgrev refuses it with an
    error, changes nothing, and the connection stays usable."""
    before_rows, before_revs = value("SELECT count(*) FROM reservation"), rev_count()
    conn = psycopg2.connect(**params("pgrev"))
    conn.autocommit = True
    cur = conn.cursor()
    try:
        cur.copy_expert("COPY reservation (name, party) FROM STDIN",
                        io.StringIO("copied\t1\n"))
        check(False, "COPY reservation FROM STDIN was accepted through pgrev")
    except psycopg2.Error as exc:
        log(f"ok: COPY FROM refused: {exc.pgcode} {exc.diag.message_primary}")
        check("reservation" in (exc.diag.message_primary or ""),
              f"the refusal should name the table: {exc.diag.message_primary!r}")
    cur.execute("SELECT 41 + 1")
    check_equal(cur.fetchone(), (42,), "query after the refused COPY")
    conn.close()
    check_equal(value("SELECT count(*) FROM reservation"), before_rows, "rows after refusal")
    check_equal(rev_count(), before_revs, "revision rows after refusal")


TRIGGERS = """
CREATE FUNCTION reservation_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.name := initcap(NEW.name);
    NEW.party := coalesce(NEW.party, 2);
    RAISE NOTICE 'stamped %', NEW.name;
    RETURN NEW;
END $$;
CREATE FUNCTION reservation_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.name = 'Keep' THEN RETURN NULL; END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER stamp BEFORE INSERT OR UPDATE ON reservation
    FOR EACH ROW EXECUTE FUNCTION reservation_stamp();
CREATE TRIGGER keep BEFORE DELETE ON reservation
    FOR EACH ROW EXECUTE FUNCTION reservation_keep();
"""


def trigger_scenario(run):
    """BEFORE triggers change rows and skip a delete: revisions hold the rows as stored, the
    counts leave out the skipped row, and the triggers' notices reach the client."""
    conn = psycopg2.connect(**params(run.target))
    conn.autocommit = True
    cur = conn.cursor()

    def see(label):
        rows = cur.fetchall() if cur.description is not None else None
        run.see(label, rowcount=cur.rowcount, status=cur.statusmessage, rows=rows,
                notices=[n.strip() for n in conn.notices])
        del conn.notices[:]

    cur.execute("INSERT INTO reservation (name) VALUES (%s), (%s) RETURNING id, name, party",
                ("steve o'neil", "keep"))
    see("insert changed by trigger")
    run.revs("insert changed by trigger", "ww")
    cur.execute("UPDATE reservation SET name = lower(name), party = NULL")
    see("update changed by trigger")
    run.revs("update changed by trigger", "ww")
    cur.execute("DELETE FROM reservation RETURNING id")
    see("delete with one row kept by trigger")
    run.revs("delete with one row kept by trigger", "d")
    cur.execute("SELECT id, name, party FROM reservation")
    see("after triggers")
    conn.close()


def legs():
    conn = psycopg2.connect(**params("pgrev"))
    with conn.cursor() as cur:
        cur.execute(UPSTREAM_SSL)
        check_legs("psycopg2", conn.info.ssl_in_use, cur.fetchone()[0])
    conn.close()


def test():
    legs()
    sql(TRIGGERS)
    run_differential(trigger_scenario)
    sql("DROP TRIGGER stamp ON reservation; DROP TRIGGER keep ON reservation")
    run_differential(scenario)
    expect_equal(rev_count(), 39, "revision rows written by the whole scenario")
    copy_from_is_refused()


if __name__ == "__main__":
    main(test)
