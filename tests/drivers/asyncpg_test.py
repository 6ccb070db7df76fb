#!/usr/bin/env python3
"""asyncpg through pgrev: its own implementation of the protocol (no libpq), binary results
always, named statements for everything with parameters, and pipelined messages.

Covers conn.prepare() named statements run several times (fetch, fetchval, the status
string), execute() with and without arguments (extended vs simple protocol) and its status
string ("UPDATE 3"), executemany on the audited table (one implicit transaction, also when
it fails half-way), binary results of many types from RETURNING, a whole-row composite in
RETURNING (asyncpg introspects the composite type), a cursor with prefetch over
UPDATE ... RETURNING (Execute with a row limit, PortalSuspended), transactions rolled back
and committed, copy in/out of a non-audited table, a slow audited UPDATE cancelled by a
timeout (a CancelRequest through pgrev), a pool of connections updating concurrently, and
executemany of 5000 rows and a 4 MB value. Every observation is compared with the same
scenario run directly, and statements' parameter and result types too.
"""

import asyncio
import datetime
import decimal
import time

import asyncpg

from driver_common import (UPSTREAM_SSL, check, check_equal, check_legs, expect_equal, log, main,
                           params, reset, rev_count, run_differential, sql, verify_history)

INSERT = "INSERT INTO reservation (name, date, time, party) VALUES ($1, $2, $3, $4)"


def connect_args(target):
    p = params(target)
    return dict(host=p["host"], port=p["port"], user=p["user"], password=p["password"],
                database=p["dbname"])


def records(rows):
    return [tuple(r) if isinstance(r, asyncpg.Record) else r for r in rows]


async def scenario(run):
    conn = await asyncpg.connect(**connect_args(run.target),
                                 server_settings={"application_name": "pgrev-driver-asyncpg"})

    # Named statements, each run several times.
    insert = await conn.prepare(INSERT + " RETURNING id, name, party")
    for i, (name, party) in enumerate([("Steve", 6), ("Phil", 3), ("Ann", 2), ("Bob", 5)]):
        row = await insert.fetchrow(name, datetime.date(2015, 4, 15 + i),
                                    datetime.time(19, i), party)
        run.see(f"prepared insert {name}", row=tuple(row), status=insert.get_statusmsg())
        run.revs(f"prepared insert {name}", "w")
    update = await conn.prepare("UPDATE reservation SET party = party + $1 WHERE party >= $2")
    for step in (1, 2):
        await update.fetch(step, 3)
        run.see(f"prepared update +{step}", status=update.get_statusmsg())
        run.revs(f"prepared update +{step}", "www")
    delete = await conn.prepare("DELETE FROM reservation WHERE id = $1 RETURNING id")
    for key in (4, 99):
        got = await delete.fetchval(key)
        run.see(f"prepared delete {key}", value=got, status=delete.get_statusmsg())
        run.revs(f"prepared delete {key}", "d" if key == 4 else "")
    for stmt in (insert, update, delete):
        run.see("statement description",
                parameters=[t.name for t in stmt.get_parameters()],
                columns=[(a.name, a.type.name) for a in stmt.get_attributes()])
    run.see("statement names", count=await conn.fetchval(
        "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE '__asyncpg_stmt_%'"))

    # execute(): the status string, with arguments (extended) and without (simple).
    status = await conn.execute("UPDATE reservation SET party = party * 2 WHERE id = $1", 1)
    run.see("execute update args", status=status)
    run.revs("execute update args", "w")
    status = await conn.execute("UPDATE reservation SET time = '20:00' WHERE party > 0")
    run.see("execute update simple", status=status)
    run.revs("execute update simple", "www")
    status = await conn.execute("UPDATE reservation SET party = 1; "
                                "INSERT INTO reservation (name) VALUES ('simple two')")
    run.see("execute two statements", status=status)
    run.revs("execute two statements", "wwww")
    status = await conn.execute("DELETE FROM reservation WHERE name = $1", "simple two")
    run.see("execute delete", status=status)
    run.revs("execute delete", "d")

    # executemany on the audited table; then one that fails half-way: all or nothing.
    await conn.executemany(INSERT, [(f"Guest {i}", None, None, i) for i in range(1, 6)])
    run.revs("executemany insert", "wwwww")
    await conn.executemany("UPDATE reservation SET party = $2 WHERE name = $1",
                           [("Guest 1", 10), ("Guest 2", 20), ("nobody", 0)])
    run.revs("executemany update", "ww")
    try:
        await conn.executemany("UPDATE reservation SET party = party / $2 WHERE name = $1",
                               [("Guest 3", 1), ("Guest 4", 0), ("Guest 5", 1)])
        run.see("executemany error", unexpected="no error")
    except asyncpg.PostgresError as exc:
        run.see("executemany error", sqlstate=exc.sqlstate, cls=type(exc).__name__)
    run.no_revs("failed executemany")
    run.see("after executemany", rows=records(await conn.fetch(
        "SELECT id, name, party FROM reservation ORDER BY id")))

    # Binary results of many types, from RETURNING of an audited UPDATE.
    typed = await conn.fetchrow(
        "UPDATE reservation AS r SET party = 7, date = '2024-02-29', time = '23:59:59.5' "
        "WHERE id = $1 RETURNING r.id, r.name, r.date, r.time, r.party, r.last_modified, "
        "r.party::numeric / 3 AS third, r.party::float8 / 3 AS f8, r.party::int8 * 1e12::int8 "
        "AS big, ARRAY[r.id, r.party] AS ints, ARRAY[r.name, NULL] AS texts, "
        "jsonb_build_object('name', r.name, 'party', r.party) AS doc, r.party > 5 AS big_party, "
        "convert_to(r.name, 'UTF8') AS bytes, interval '1 day 2 hours' AS span, "
        "int4range(r.id, r.party) AS range, md5(r.name)::uuid AS id_uuid, "
        "'10.1.2.3/8'::inet AS net", 1)
    run.see("binary types", row=tuple(typed), kinds=[type(v).__name__ for v in typed])
    run.revs("binary types", "w")
    check(isinstance(typed["third"], decimal.Decimal) and typed["last_modified"].tzinfo,
          f"asyncpg decoded unexpected types: {typed!r}")

    # A whole-row composite of the table's type in RETURNING.
    stmt = await conn.prepare("UPDATE reservation AS r SET party = 8 WHERE id = $1 "
                              "RETURNING r, r.party")
    whole = await stmt.fetchrow(2)
    run.see("whole row returning", row=tuple(whole["r"]), party=whole["party"],
            columns=[(a.name, a.type.name, a.type.kind) for a in stmt.get_attributes()])
    run.revs("whole row returning", "w")

    # A cursor with prefetch over UPDATE ... RETURNING: the portal is suspended between
    # batches, and the update (and its revisions) happen in full.
    async with conn.transaction():
        got = [tuple(r) async for r in conn.cursor(
            "UPDATE reservation SET party = party + 1 WHERE name LIKE $1 RETURNING id, party",
            "Guest%", prefetch=2)]
    run.see("cursor over update returning", rows=sorted(got))
    run.revs("cursor over update returning", "wwwww")
    async with conn.transaction():
        cursor = await conn.cursor("SELECT id, name FROM reservation ORDER BY id")
        run.see("cursor fetch", first=records(await cursor.fetch(3)),
                next=records(await cursor.fetch(2)))

    # Transactions: rolled back by an exception, and committed.
    try:
        async with conn.transaction():
            await conn.execute("UPDATE reservation SET party = 0")
            await insert.fetchrow("Never", None, None, 1)
            await conn.execute("DELETE FROM reservation WHERE id = $1", 1)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    run.no_revs("rolled back transaction")
    async with conn.transaction():
        row = await insert.fetchrow("Committed", None, None, 2)
        run.see("tx insert", row=tuple(row))
        run.see("tx update", status=await conn.execute(
            "UPDATE reservation SET party = 3 WHERE id = $1", row["id"]))
        run.see("tx delete", status=await conn.execute(
            "DELETE FROM reservation WHERE name = $1", "Guest 5"))
    run.revs("committed transaction", "wwd")

    # Copy of a non-audited table in both directions; copy out of the audited one.
    await conn.execute("CREATE TEMP TABLE note (id int PRIMARY KEY, body text, at date)")
    status = await conn.copy_records_to_table(
        "note", records=[(i, f"note {i}", datetime.date(2020, 1, i)) for i in range(1, 4)])
    run.see("copy records in", status=status)
    out = []

    async def sink(chunk):
        out.append(bytes(chunk))
    status = await conn.copy_from_query("SELECT * FROM note ORDER BY id", output=sink)
    run.see("copy out note", status=status, data=b"".join(out))
    out.clear()
    status = await conn.copy_from_table("reservation", columns=["id", "name", "party"],
                                        output=sink)
    run.see("copy out audited", status=status, data=sorted(b"".join(out).splitlines()))
    run.no_revs("copy")

    run.see("final table", rows=records(await conn.fetch(
        "SELECT id, name, date, time, party FROM reservation ORDER BY id")))
    await conn.close()


async def pool_updates():
    """Eight tasks on a pool of four connections, each updating its own rows many times."""
    reset()
    pool = await asyncpg.create_pool(**connect_args("pgrev"), min_size=4, max_size=4)
    async with pool.acquire() as conn:
        await conn.executemany(INSERT, [(f"Pool {i}", None, None, 0) for i in range(8)])

    async def worker(i):
        for step in range(10):
            async with pool.acquire() as conn:
                status = await conn.execute(
                    "UPDATE reservation SET party = party + 1 WHERE name = $1", f"Pool {i}")
                check_equal(status, "UPDATE 1", f"pool worker {i} step {step}")
    await asyncio.gather(*(worker(i) for i in range(8)))
    await pool.close()
    check_equal(sql("SELECT sum(party) FROM reservation")[0][0], 80, "sum of parties")
    check_equal(rev_count(), 8 + 80, "revision rows from the pool")
    verify_history()
    log("ok: concurrent updates through a pool, one revision each")


async def large_executemany():
    """executemany of thousands of rows: asyncpg streams the messages while it reads."""
    n = 5000
    reset()
    conn = await asyncpg.connect(**connect_args("pgrev"))
    await conn.executemany(INSERT, [(f"Large {i}", None, None, i) for i in range(n)])
    await conn.executemany("UPDATE reservation SET party = party + 1 WHERE id = $1",
                           [(i,) for i in range(1, n + 1)])
    check_equal(await conn.fetchval("SELECT sum(party) FROM reservation"),
                n * (n - 1) // 2 + n, "sum of parties after the large executemany")
    big = "é" * 2_000_000  # 4 MB of UTF-8 in one parameter
    status = await conn.execute(
        "UPDATE reservation SET name = $1 WHERE id = $2", big, 1)
    check_equal(status, "UPDATE 1", "status of the large value update")
    await conn.close()
    check_equal(rev_count(), 2 * n + 1, "revision rows of the large executemany")
    check_equal(sql("SELECT length(name) FROM reservation_rev WHERE length(name) > 1000"),
                [(2_000_000,)], "the large value in its revision")
    verify_history()
    log(f"ok: executemany of {n} inserts and {n} updates")


async def cancel_scenario(run):
    """A timeout cancels a slow audited UPDATE (asyncpg sends a CancelRequest on a new
    connection): nothing changes, nothing is recorded, the connection goes on."""
    conn = await asyncpg.connect(**connect_args(run.target))
    await conn.execute(INSERT, "Slow", None, None, 1)
    run.revs("insert before cancel", "w")
    started = time.monotonic()
    try:
        await conn.execute("UPDATE reservation SET party = party + 1 "
                           "WHERE id = $1 AND pg_sleep(5) IS NOT NULL", 1, timeout=0.5)
        run.see("cancelled update", error=None)
    except asyncio.TimeoutError:
        run.see("cancelled update", error="TimeoutError")
    run.see("cancelled in time", fast=time.monotonic() - started < 4)
    run.no_revs("cancelled update")
    run.see("after cancel", status=await conn.execute(
        "UPDATE reservation SET party = party + 10 WHERE id = $1", 1),
        party=await conn.fetchval("SELECT party FROM reservation WHERE id = 1"))
    run.revs("update after cancel", "w")
    await conn.close()


async def legs():
    conn = await asyncpg.connect(**connect_args("pgrev"))
    # asyncpg has no public "is this TLS" call; its transport is the asyncio SSL one then.
    ssl_object = conn._transport.get_extra_info("ssl_object")
    check_legs("asyncpg", ssl_object is not None, await conn.fetchval(UPSTREAM_SSL))
    await conn.close()


def test():
    asyncio.run(legs())
    run_differential(lambda run: asyncio.run(cancel_scenario(run)))
    run_differential(lambda run: asyncio.run(scenario(run)))
    expect_equal(rev_count(), 37, "revision rows written by the whole scenario")
    asyncio.run(pool_updates())
    asyncio.run(large_executemany())


if __name__ == "__main__":
    main(test)
