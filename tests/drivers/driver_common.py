"""Shared by the Python driver tests (run by pgrev_test_stack, see test_stack.cpp).

Each test runs one scenario twice: straight against PostgreSQL (PGREV_DIRECT_PORT) and
through pgrev (PGPORT), on a freshly emptied `reservation` table each time, and compares
what the driver saw (rows, row counts, command tags, errors); only the run through pgrev
writes revision rows, and those are checked statement by statement with SQL on a direct
superuser connection: one revision row per changed row, INSERT/UPDATE revisions equal to
the row as stored, DELETE revisions with only the key.

The admin side uses psycopg2 on the direct port, so it never depends on pgrev.
"""

import datetime
import os
import sys
import traceback
import uuid

import psycopg2

COLUMNS = ("id", "name", "date", "time", "party", "last_modified")


class Failure(Exception):
    pass


def fail(message):
    raise Failure(message)


def check(condition, message):
    if not condition:
        fail(message)


# Problems found that need not stop the test: reported (and failing it) at the end, so one
# difference does not hide the checks after it.
_deferred = []


def fail_later(message):
    print(f"PROBLEM: {message}", file=sys.stderr, flush=True)
    _deferred.append(message)


def expect_equal(actual, expected, what):
    """check_equal that lets the test go on (see fail_later)."""
    if actual != expected:
        fail_later(f"{what}:\n  expected {expected!r}\n  actual   {actual!r}")
    else:
        log(f"ok: {what}: {actual!r}")


def check_equal(actual, expected, what):
    if actual != expected:
        fail(f"{what}:\n  expected {expected!r}\n  actual   {actual!r}")


def log(message):
    print(message, flush=True)


# --- where the servers are (set by pgrev_test_stack) -------------------------------------

def _env(name):
    value = os.environ.get(name)
    if not value:
        fail(f"{name} is not set: run this test through pgrev_test_stack (ctest -R driver)")
    return value


def params(target):
    """Connection parameters of the application role, for 'pgrev' or 'direct'."""
    port = _env("PGPORT") if target == "pgrev" else _env("PGREV_DIRECT_PORT")
    return dict(host=_env("PGHOST"), port=int(port), user=_env("PGUSER"),
                password=_env("PGPASSWORD"), dbname=_env("PGDATABASE"))


def dsn(target, **extra):
    items = dict(params(target), **extra)
    return " ".join(f"{k}={v}" for k, v in items.items())


def url(target, scheme="postgresql"):
    p = params(target)
    return f"{scheme}://{p['user']}:{p['password']}@{p['host']}:{p['port']}/{p['dbname']}"


TARGETS = ("direct", "pgrev")


# --- TLS (pgrev_test_stack --tls) --------------------------------------------------------

# The upstream leg as the server sees it, asked through pgrev.
UPSTREAM_SSL = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"


def tls_expected():
    """True under pgrev_test_stack --tls (TLS on both legs), False for the plain runs."""
    return _env("PGREV_TLS") == "1"


def check_legs(driver, client_tls, upstream_tls):
    """Once per suite: the driver's connection to pgrev (client_tls, as the driver reports it)
    and pgrev's to PostgreSQL (upstream_tls, from UPSTREAM_SSL through pgrev) are TLS under
    --tls and clear otherwise."""
    want = tls_expected()
    name = {True: "TLS", False: "clear"}
    check(bool(client_tls) is want,
          f"{driver}: its connection to pgrev is {name[bool(client_tls)]}, expected {name[want]}")
    check(bool(upstream_tls) is want,
          f"{driver}: pgrev's connection to PostgreSQL is {name[bool(upstream_tls)]} "
          f"(pg_stat_ssl), expected {name[want]}")
    log(f"ok: {driver}: both legs {name[want]}")


# --- the admin connection: direct, superuser, autocommit --------------------------------

_admin = None


def admin():
    global _admin
    if _admin is None or _admin.closed:
        _admin = psycopg2.connect(host=_env("PGHOST"), port=int(_env("PGREV_DIRECT_PORT")),
                                  user=_env("PGREV_SUPERUSER"), dbname=_env("PGDATABASE"))
        _admin.autocommit = True
    return _admin


def sql(query, args=None):
    """Runs a query directly as superuser; returns its rows as tuples (or None)."""
    with admin().cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description is not None else None


def value(query, args=None):
    return sql(query, args)[0][0]


def reset():
    """Empties the audited table and its history (directly: pgrev refuses TRUNCATE)."""
    sql("TRUNCATE reservation, reservation_rev RESTART IDENTITY")


def rev_count():
    return value("SELECT count(*) FROM reservation_rev")


def stored_row(key):
    rows = sql(f"SELECT {', '.join(COLUMNS)} FROM reservation WHERE id = %s", (key,))
    return rows[0] if rows else None


class RevWatcher:
    """The revision rows written since the last call, oldest first."""

    def __init__(self):
        self.seen = set()

    def new(self):
        rows = sql(f"SELECT rev_id, rev_created, rev_isdelete, {', '.join(COLUMNS)} "
                   "FROM reservation_rev ORDER BY rev_created, rev_id")
        fresh = [r for r in rows if r[0] not in self.seen]
        self.seen.update(r[0] for r in fresh)
        return fresh


def check_rev_rows(label, revs, kinds):
    """`kinds` has one letter per expected revision, oldest first: 'w' for INSERT/UPDATE,
    'd' for DELETE. The last revision of each key must match the row as stored (or, for a
    delete, hold only the key)."""
    check(len(revs) == len(kinds),
          f"{label}: expected {len(kinds)} revision row(s), found {len(revs)}: {revs!r}")
    last_of_key = {rev[3]: i for i, rev in enumerate(revs)}
    for i, (rev, kind) in enumerate(zip(revs, kinds)):
        rev_id, created, isdelete, key = rev[0], rev[1], rev[2], rev[3]
        image = rev[3:]
        check(isinstance(rev_id, str) and len(rev_id) == 36, f"{label}: rev_id {rev_id!r}")
        check(isinstance(created, float) and created > 1.6e9,
              f"{label}: rev_created {created!r} is not seconds since the epoch")
        check(key is not None, f"{label}: revision without its key: {rev!r}")
        if kind == "d":
            check(isdelete is True, f"{label}: DELETE revision without rev_isdelete: {rev!r}")
            check(all(v is None for v in image[1:]),
                  f"{label}: DELETE revision must hold the key and NULL elsewhere: {rev!r}")
        else:
            check(isdelete is False, f"{label}: rev_isdelete set on a write revision: {rev!r}")
            if last_of_key[key] == i:
                stored = stored_row(key)
                check(stored is not None and tuple(image) == tuple(stored),
                      f"{label}: revision differs from the row as stored:\n"
                      f"  revision {tuple(image)!r}\n  stored   {stored!r}")


def verify_history():
    """The latest revision of every key equals the current row: no change escaped its revision."""
    cols = ", ".join(f"l.{c}" for c in COLUMNS[1:])
    rcols = ", ".join(f"r.{c}" for c in COLUMNS[1:])
    bad = sql(f"""
        WITH latest AS (SELECT DISTINCT ON (id) * FROM reservation_rev
                        ORDER BY id, rev_created DESC)
        SELECT 'row without matching latest revision', r.id FROM reservation r
          LEFT JOIN latest l USING (id)
         WHERE l.id IS NULL OR l.rev_isdelete OR ({cols}) IS DISTINCT FROM ({rcols})
        UNION ALL
        SELECT 'latest revision of a missing row is no delete', l.id FROM latest l
          LEFT JOIN reservation r USING (id) WHERE NOT l.rev_isdelete AND r.id IS NULL""")
    check(not bad, f"history does not match the table: {bad!r}")


# --- recording what a driver saw --------------------------------------------------------

def normalize(value):
    """Values that differ between two runs by nature (now(), random uuids) become tags."""
    if isinstance(value, (list, tuple)):
        return type(value)(normalize(v) for v in value)
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, datetime.datetime):
        return "<timestamp>"
    if isinstance(value, uuid.UUID):
        return "<uuid>"
    return value


class Run:
    """One pass of a scenario against one target; `after` checks revisions via pgrev."""

    def __init__(self, target):
        self.target = target
        self.observations = []
        self.watcher = RevWatcher() if target == "pgrev" else None

    def see(self, label, **values):
        self.observations.append((label, normalize(values)))
        if os.environ.get("PGREV_TEST_VERBOSE"):
            log(f"  {self.target}: {label}: {self.observations[-1][1]!r}")

    def revs(self, label, kinds):
        """After committed statements: the new revision rows via pgrev (see check_rev_rows)."""
        if self.watcher is not None:
            check_rev_rows(label, self.watcher.new(), kinds)

    def skip_revs(self):
        """Takes the new revision rows as they are (for statements that differ anyway)."""
        if self.watcher is not None:
            self.watcher.new()

    def no_revs(self, label):
        if self.watcher is not None:
            fresh = self.watcher.new()
            check(not fresh, f"{label}: expected no revision rows, found {fresh!r}")


def compare_runs(direct, proxied):
    a, b = direct.observations, proxied.observations
    differences = []
    for i in range(max(len(a), len(b))):
        da = a[i] if i < len(a) else None
        db = b[i] if i < len(b) else None
        if da != db:
            differences.append(f"observation {i}:\n  direct {da!r}\n  pgrev  {db!r}")
    if differences:
        fail_later("the driver saw something else through pgrev than directly "
                   f"({len(differences)} of {len(a)} observations):\n" + "\n".join(differences))
    else:
        log(f"ok: {len(a)} observations identical directly and through pgrev")


def run_differential(scenario):
    """Runs scenario(run) directly and through pgrev; returns the pgrev Run."""
    runs = {}
    for target in TARGETS:
        reset()
        run = Run(target)
        log(f"--- scenario {target} ---")
        scenario(run)
        runs[target] = run
    compare_runs(runs["direct"], runs["pgrev"])
    verify_history()
    log("ok: the latest revision of every row equals the row")
    return runs["pgrev"]


def main(test):
    name = os.path.basename(sys.argv[0])
    try:
        test()
    except Failure as error:
        print(f"FAIL {name}: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    except Exception:
        print(f"FAIL {name}: unexpected exception", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
    if _deferred:
        print(f"FAIL {name}: {len(_deferred)} problem(s), each printed above as PROBLEM",
              file=sys.stderr, flush=True)
        sys.exit(1)
    log(f"PASS {name}")

