#!/usr/bin/env python3
"""psycopg 3 through pgrev: the extended query protocol (Parse/Bind/Execute with $n
parameters, text and binary), named prepared statements, pipeline mode and COPY.

Covers prepare=True statements executed several times (and psycopg's own automatic
preparing after prepare_threshold runs), binary parameters and results, a whole-row
RETURNING loaded as a registered composite type, executemany (which psycopg 3.1 runs as a
pipeline), explicit pipelines with several DMLs and Syncs, an error in the middle of a
pipeline (the server skips to the Sync and the implicit transaction rolls back), read-only
transactions, a server-side cursor, COPY of a non-audited table in both directions (text and
binary) and COPY out of the audited one, cursor.rowcount, statusmessage and column types,
and a pipeline of 3000 prepared UPDATEs. Every observation is compared with the same
scenario run directly.
"""

import datetime

import psycopg
import psycopg.errors
import psycopg.types.composite

from driver_common import (UPSTREAM_SSL, check_equal, check_legs, expect_equal, log, main,
                           normalize, params, reset, rev_count, run_differential, verify_history)

INSERT = "INSERT INTO reservation (name, date, time, party) VALUES (%s, %s, %s, %s)"


def prepared_names(conn):
    # The names only: through pgrev the statement text is the rewritten one. pgrev's own
    # statements (__pgrev_<n>, the rewrite of an unnamed Parse sent again) are left out.
    return [r[0] for r in conn.execute(
        "SELECT name FROM pg_prepared_statements WHERE NOT starts_with(name, '__pgrev_') "
        "ORDER BY name").fetchall()]


def scenario(run):
    conn = psycopg.connect(**params(run.target), autocommit=True,
                           application_name="pgrev-driver-psycopg3")
    cur = conn.cursor()

    def see(label, c=None):
        c = c or cur
        rows = c.fetchall() if c.description is not None else None
        columns = [(d.name, d.type_code) for d in c.description or []]
        run.see(label, rowcount=c.rowcount, status=c.statusmessage, rows=rows, columns=columns)

    def error(label, exc):
        run.see(label, sqlstate=exc.sqlstate, message=exc.diag.message_primary,
                position=exc.diag.statement_position, cls=type(exc).__name__)

    # Named prepared statements (prepare=True), each executed several times.
    for i, (name, party) in enumerate([("Steve", 6), ("Phil", 3), ("Ann", 2), ("Bob", 5)]):
        cur.execute(INSERT + " RETURNING id, name, party",
                    (name, datetime.date(2015, 4, 15 + i), datetime.time(19, i), party),
                    prepare=True)
        see(f"prepared insert {name}")
        run.revs(f"prepared insert {name}", "w")
    for party in (7, 8, 9):
        cur.execute("UPDATE reservation SET party = %s WHERE party >= %s", (party, 5),
                    prepare=True)
        see(f"prepared update party={party}")
        run.revs(f"prepared update party={party}", "ww")
    for key in (3, 4):
        cur.execute("DELETE FROM reservation WHERE id = %s RETURNING id", (key,), prepare=True)
        see(f"prepared delete {key}")
        run.revs(f"prepared delete {key}", "d")
    cur.execute("DELETE FROM reservation WHERE id = %s RETURNING id", (99,), prepare=True)
    see("prepared delete of nothing")
    run.no_revs("prepared delete of nothing")
    run.see("prepared statements", names=prepared_names(conn))

    # Automatic preparing: the 6th run of the same text uses a named statement.
    for i in range(7):
        cur.execute("UPDATE reservation SET party = party + 1 WHERE id = %s", (1,))
        see(f"auto-prepared update {i}")
        run.revs(f"auto-prepared update {i}", "w")
    run.see("prepared statements after auto", names=prepared_names(conn))

    # Binary parameters and results.
    cur = conn.cursor(binary=True)
    cur.execute(INSERT + " RETURNING id, name, date, time, party, last_modified IS NOT NULL",
                ("Binary Bea", datetime.date(2016, 2, 29), datetime.time(23, 59, 58), 12),
                binary=True)
    see("binary insert returning")
    run.revs("binary insert returning", "w")
    cur.execute("UPDATE reservation SET time = %s, date = %s WHERE name = %s "
                "RETURNING date, time", (datetime.time(1, 2, 3), datetime.date(2020, 1, 1),
                                         "Binary Bea"), binary=True)
    see("binary update returning")
    run.revs("binary update returning", "w")
    cur = conn.cursor()

    # A whole-row reference to the target in RETURNING is a value of the table's row type,
    # which psycopg loads as a composite once the type is registered.
    info = psycopg.types.composite.CompositeInfo.fetch(conn, "reservation")
    psycopg.types.composite.register_composite(info, conn)
    cur = conn.cursor()  # a cursor takes the connection's adapters when it is made
    for binary in (False, True):
        cur.execute("UPDATE reservation AS r SET party = party WHERE r.id = %s RETURNING r",
                    (2,), binary=binary)
        row = cur.fetchone()[0]
        run.see(f"whole row returning (binary={binary})", type=type(row).__name__,
                value=normalize(tuple(row)), column_type=cur.description[0].type_code)
        run.revs(f"whole row returning (binary={binary})", "w")
    cur.execute("UPDATE reservation SET party = party WHERE id = %s "
                "RETURNING reservation AS whole", (2,))
    run.see("whole row by table name", type=type(cur.fetchone()[0]).__name__,
            column_type=cur.description[0].type_code)
    run.revs("whole row by table name", "w")

    # executemany (a pipeline in psycopg 3.1), without and with RETURNING.
    guests = [(f"Guest {i}", None, None, i) for i in range(1, 6)]
    cur.executemany(INSERT, guests)
    run.see("executemany insert", rowcount=cur.rowcount)
    run.revs("executemany insert", "wwwww")
    cur.executemany("UPDATE reservation SET party = party * 10 WHERE name = %s",
                    [("Guest 1",), ("Guest 2",), ("nobody",)])
    run.see("executemany update", rowcount=cur.rowcount)
    run.revs("executemany update", "ww")
    cur.executemany(INSERT + " RETURNING id, name", [("Ret 1", None, None, 1),
                                                      ("Ret 2", None, None, 2)],
                    returning=True)
    returned = []
    while True:
        returned.append(cur.fetchall())
        if not cur.nextset():
            break
    run.see("executemany returning", rows=returned, rowcount=cur.rowcount)
    run.revs("executemany returning", "ww")

    # An explicit pipeline: several DMLs, each cursor read after the pipeline.
    with conn.pipeline() as pipeline:
        c1 = conn.execute("UPDATE reservation SET party = 1 WHERE name LIKE %s", ("Guest%",))
        c2 = conn.execute(INSERT + " RETURNING id", ("Piped", None, None, 4))
        c3 = conn.execute("DELETE FROM reservation WHERE name = %s", ("Guest 5",))
        pipeline.sync()
        c4 = conn.execute("UPDATE reservation SET name = name || '!' WHERE id = %s "
                          "RETURNING name", (1,))
        c5 = conn.execute("SELECT count(*) FROM reservation")
    for label, c in (("pipe update", c1), ("pipe insert", c2), ("pipe delete", c3),
                     ("pipe update 2", c4), ("pipe select", c5)):
        see(label, c)
    run.revs("pipeline", "wwwww" + "w" + "d" + "w")

    # An error in a pipeline: everything since the last Sync is one implicit transaction,
    # so the statement before the error is rolled back too, and the ones after are skipped.
    try:
        with conn.pipeline():
            conn.execute("UPDATE reservation SET party = 100 WHERE id = %s", (1,))
            conn.execute("UPDATE reservation SET party = party / %s WHERE id = %s", (0, 1))
            conn.execute("DELETE FROM reservation WHERE id = %s", (1,))
        run.see("pipeline error", unexpected="no error")
    except psycopg.Error as exc:
        error("pipeline error", exc)
    run.no_revs("pipeline error")
    cur.execute("SELECT party FROM reservation WHERE id = %s", (1,))
    see("after pipeline error")

    # A transaction rolled back, and one committed.
    conn.autocommit = False
    cur.execute("UPDATE reservation SET party = 0", prepare=True)
    see("tx update all")
    cur.execute("DELETE FROM reservation WHERE id = %s", (2,))
    see("tx delete")
    conn.rollback()
    run.no_revs("rolled back")
    with conn.transaction():
        cur.execute(INSERT, ("In tx", None, None, 3))
        see("tx insert")
        cur.execute("UPDATE reservation SET party = 4 WHERE name = %s", ("In tx",))
        see("tx update")
    conn.commit()
    run.revs("committed transaction", "ww")

    # A read-only transaction (conn.read_only: BEGIN READ ONLY) refuses every change with
    # 25006 and a message naming the command the client sent.
    conn.read_only = True
    for statement in ("UPDATE reservation SET party = 1 WHERE id = %s",
                      "DELETE FROM reservation WHERE id = %s",
                      "UPDATE reservation SET party = 1 WHERE id = %s RETURNING id"):
        try:
            cur.execute(statement, (1,))
            run.see("read-only transaction", unexpected="no error")
        except psycopg.Error as exc:
            error("read-only transaction", exc)
        conn.rollback()
    conn.read_only = False
    run.no_revs("read-only transaction")

    # A server-side cursor (DECLARE via the extended protocol).
    with conn.cursor(name="reservations") as named:
        named.itersize = 3
        named.execute("SELECT id, name, party FROM reservation WHERE party > %s ORDER BY id",
                      (0,))
        run.see("named cursor", rows=list(named))
    conn.commit()
    conn.autocommit = True

    # COPY of a non-audited table both ways, text and binary; COPY out of the audited one.
    cur.execute("CREATE TEMP TABLE note (id int PRIMARY KEY, body text, at date)")
    with cur.copy("COPY note (id, body, at) FROM STDIN") as copy:
        for i in range(1, 4):
            copy.write_row((i, f"note {i}\twith tab", datetime.date(2021, 1, i)))
    run.see("copy in text", rowcount=cur.rowcount, status=cur.statusmessage)
    with cur.copy("COPY note (id, body, at) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "text", "date"])
        copy.write_row((4, "binary", datetime.date(2022, 2, 2)))
    run.see("copy in binary", rowcount=cur.rowcount, status=cur.statusmessage)
    with cur.copy("COPY note TO STDOUT") as copy:
        run.see("copy out text", rows=list(copy.rows()))
    with cur.copy("COPY (SELECT id, body, at FROM note ORDER BY id) TO STDOUT (FORMAT BINARY)") \
            as copy:
        copy.set_types(["int4", "text", "date"])
        run.see("copy out binary", rows=list(copy.rows()))
    with cur.copy("COPY reservation (id, name, party) TO STDOUT") as copy:
        run.see("copy out audited", rows=sorted(copy.rows()))
    run.no_revs("copy")

    cur.execute("SELECT id, name, date, time, party FROM reservation ORDER BY id")
    see("final table")
    conn.close()


def legs():
    with psycopg.connect(**params("pgrev")) as conn:
        check_legs("psycopg 3", conn.pgconn.ssl_in_use, conn.execute(UPSTREAM_SSL).fetchone()[0])


def test():
    legs()
    run_differential(scenario)
    # 4 + 6 + 2 (prepared) + 7 (auto) + 2 (binary) + 5 + 2 + 2 (executemany)
    # + 3 (whole row) + 8 (pipeline) + 2 (transaction)
    expect_equal(rev_count(), 43, "revision rows written by the whole scenario")
    large_pipeline()


def large_pipeline():
    """Thousands of statements in one pipeline: psycopg writes while the results come back."""
    n = 3000
    reset()
    with psycopg.connect(**params("pgrev"), autocommit=True) as conn:
        cur = conn.cursor()
        cur.executemany(INSERT, [(f"Large {i}", None, None, i) for i in range(n)])
        check_equal(cur.rowcount, n, "rowcount of the large executemany")
        with conn.pipeline():
            cursors = [conn.execute("UPDATE reservation SET party = party + 1 WHERE id = %s",
                                    (i,), prepare=True) for i in range(1, n + 1)]
        check_equal(sorted({(c.rowcount, c.statusmessage) for c in cursors}),
                    [(1, "UPDATE 1")], "results of the large pipeline")
    check_equal(rev_count(), 2 * n, "revision rows of the large pipeline")
    verify_history()
    log(f"ok: executemany of {n} inserts and a pipeline of {n} prepared updates")


if __name__ == "__main__":
    main(test)
