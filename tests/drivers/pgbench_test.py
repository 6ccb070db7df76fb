#!/usr/bin/env python3
"""pgbench through pgrev, in each of its protocols: -M simple (Query messages), -M extended
(unnamed statements) and -M prepared (named statements, Parse once, Bind/Execute many).

Two clients run a deterministic custom script on the audited table: every transaction of
the script changes exactly 8 rows (a 5-row UPDATE, a 1-row UPDATE, an INSERT whose id is
read back with RETURNING ... \\gset and a DELETE of that row) and rolls one more UPDATE
back. So after T transactions there must be exactly 8*T new revision rows (5+1 updates,
T inserts named 'bench', T key-only deletes), the parties must have grown by 6*T as they do
when the same script runs directly, and the latest revision of every row must equal it.
"""

import os
import re
import subprocess
import tempfile

import psycopg2

from driver_common import (UPSTREAM_SSL, check, check_equal, check_legs, log, main, params, reset,
                           rev_count, sql, tls_expected, verify_history)

SCRIPT = r"""
\set id random(1, 100)
\set lo random(1, 96)
UPDATE reservation SET party = party + 1 WHERE id BETWEEN :lo AND :lo + 4;
BEGIN;
UPDATE reservation SET party = party + 1 WHERE id = :id;
INSERT INTO reservation (name, party) VALUES ('bench', :id) RETURNING id AS new_id \gset
SELECT party FROM reservation WHERE id = :new_id;
DELETE FROM reservation WHERE id = :new_id;
END;
BEGIN;
UPDATE reservation SET party = party + 1000 WHERE id = :id;
ROLLBACK;
"""
# -M extended sends an unnamed Parse of the same text every time: pgrev keeps its rewrite
# prepared on the server session (__pgrev_<n>, created by the 2nd Parse, bound from then on).
# Each client checks in its own session that there is exactly one and that the server ran it
# once per UPDATE but the first; else the transaction fails (division by zero) and pgbench
# stops that client.
KEPT_SCRIPT = r"""
\set n :n + 1
\set id random(1, 100)
UPDATE reservation SET party = party + 1 WHERE id = :id;
SELECT count(*) AS kept, coalesce(sum(generic_plans + custom_plans), 0) AS runs
  FROM pg_prepared_statements WHERE starts_with(name, '__pgrev_') \gset
\if :n >= 2 and (:kept != 1 or :runs != :n - 1)
SELECT 1/0;
\endif
"""
REVS_PER_TX = 8
PARTY_PER_TX = 6
CLIENTS = 2
TX_PER_CLIENT = 200


def pgbench(mode, port, script_path, extra=()):
    bindir = os.environ.get("PGREV_PG_BINDIR", "/usr/lib/postgresql/15/bin")
    env = dict(os.environ, PGPORT=str(port))
    argv = [os.path.join(bindir, "pgbench"), "-n", "-M", mode, "-c", str(CLIENTS),
            "-j", str(CLIENTS), "-t", str(TX_PER_CLIENT), "-f", script_path, *extra]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    check(done.returncode == 0,
          f"pgbench -M {mode} on port {port} exited with {done.returncode}:\n{output}")
    processed = re.search(r"number of transactions actually processed: (\d+)/(\d+)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    check(processed is not None and processed.group(1) == processed.group(2),
          f"pgbench -M {mode}: not every transaction was processed:\n{output}")
    check(failed is None or failed.group(1) == "0",
          f"pgbench -M {mode}: failed transactions:\n{output}")
    return int(processed.group(1))


def party_sum():
    return sql("SELECT coalesce(sum(party), 0) FROM reservation")[0][0]


def seed(target):
    """100 rows, ids 1 to 100; through pgrev they get their INSERT revisions."""
    reset()
    conn = psycopg2.connect(**params(target))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("INSERT INTO reservation (name, party) "
                    "SELECT 'row ' || i, 0 FROM generate_series(1, 100) AS i")
        check_equal(cur.rowcount, 100, f"seed rows ({target})")
    conn.close()


def legs():
    """pgbench has no way to say whether it used TLS: psycopg2 with the same libpq environment
    (PGSSLMODE) shows what pgbench gets, and pgrev's session lines show pgbench's own."""
    conn = psycopg2.connect(**params("pgrev"))
    with conn.cursor() as cur:
        cur.execute(UPSTREAM_SSL)
        check_legs("libpq as pgbench runs it", conn.info.ssl_in_use, cur.fetchone()[0])
    conn.close()


def pgbench_sessions_legs():
    """Every session pgbench opened through pgrev, as pgrev's log line describes it."""
    want = "client TLS" if tls_expected() else "client clear"
    with open(os.environ["PGREV_LOG"], errors="replace") as log_file:
        lines = [line for line in log_file if "application_name=pgbench" in line]
    check(lines, "pgrev logged no session of pgbench (application_name=pgbench)")
    odd = [line for line in lines if want not in line]
    check(not odd, f"pgbench sessions whose client leg is not '{want}': {odd[:3]!r}")
    log(f"ok: {len(lines)} pgbench sessions, each '{want}'")


def test():
    legs()
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(SCRIPT)
        script_path = f.name
    try:
        direct_port = int(os.environ["PGREV_DIRECT_PORT"])
        proxy_port = int(os.environ["PGPORT"])

        # Directly: the script does what it should, and no revisions appear.
        seed("direct")
        parties, revs = party_sum(), rev_count()
        tx = pgbench("prepared", direct_port, script_path)
        check_equal(party_sum() - parties, PARTY_PER_TX * tx, "party growth directly")
        check_equal(rev_count() - revs, 0, "revision rows written directly")
        log(f"ok: directly, {tx} transactions")

        seed("pgrev")
        check_equal(rev_count(), 100, "revision rows of the seed")

        for mode in ("simple", "extended", "prepared"):
            parties, revs = party_sum(), rev_count()
            deletes = sql("SELECT count(*) FROM reservation_rev WHERE rev_isdelete")[0][0]
            bench_inserts = sql("SELECT count(*) FROM reservation_rev "
                                "WHERE name = 'bench' AND NOT rev_isdelete")[0][0]
            tx = pgbench(mode, proxy_port, script_path)
            check_equal(party_sum() - parties, PARTY_PER_TX * tx, f"-M {mode}: party growth")
            check_equal(rev_count() - revs, REVS_PER_TX * tx, f"-M {mode}: new revision rows")
            check_equal(sql("SELECT count(*) FROM reservation_rev WHERE rev_isdelete")[0][0]
                        - deletes, tx, f"-M {mode}: new DELETE revisions")
            check_equal(sql("SELECT count(*) FROM reservation_rev "
                            "WHERE name = 'bench' AND NOT rev_isdelete")[0][0] - bench_inserts,
                        tx, f"-M {mode}: new INSERT revisions")
            odd = sql("SELECT count(*) FROM reservation_rev WHERE rev_isdelete AND "
                      "(name IS NOT NULL OR party IS NOT NULL OR last_modified IS NOT NULL)")
            check_equal(odd[0][0], 0, "DELETE revisions with more than the key")
            check_equal(sql("SELECT count(*) FROM reservation_rev WHERE party >= 1000")[0][0],
                        0, "revisions of rolled-back updates")
            verify_history()
            log(f"ok: -M {mode}: {tx} transactions, {REVS_PER_TX * tx} revision rows")
        kept_statement(proxy_port)
        pgbench_sessions_legs()
    finally:
        os.unlink(script_path)


def kept_statement(proxy_port):
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(KEPT_SCRIPT)
        path = f.name
    try:
        parties, revs = party_sum(), rev_count()
        tx = pgbench("extended", proxy_port, path, ("-D", "n=0"))
        check_equal(party_sum() - parties, tx, "-M extended, kept statement: party growth")
        check_equal(rev_count() - revs, tx, "-M extended, kept statement: new revision rows")
        verify_history()
        log(f"ok: -M extended: pgrev's kept statement ran {tx - CLIENTS} times, "
            f"{tx} revision rows")
    finally:
        os.unlink(path)


if __name__ == "__main__":
    main(test)
