#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (run from anywhere; rewrites them all).

SQL seeds are shapes from tests/audit/*.cpp plus quoting/comment corner cases; protocol seeds
are real messages in wire form, as libpq and PostgreSQL 15 send them.
"""
import hashlib
import pathlib
import shutil
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

SQL = [
    # Plain DML of audited tables, names spelled several ways.
    "UPDATE reservation SET party = 1",
    "update RESERVATION set party = 1",
    'DELETE FROM "ReSeRvAtIoN"',
    "delete from billing.invoice",
    "DELETE FROM invoice WHERE no = 1",
    'UPDATE U&"\\0072eservation" SET party = 1',
    'UPDATE U&"!0072eservation" UESCAPE \'!\' SET party = 1',
    "INSERT INTO public.reservation DEFAULT VALUES",
    "INSERT INTO reservation (name) VALUES ('a'), ('b'), ('c')",
    "INSERT INTO reservation (name) SELECT name FROM other WHERE x > 1",
    "INSERT INTO reservation (id) VALUES (1) ON CONFLICT DO NOTHING",
    "INSERT INTO reservation AS r (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE "
    "SET name = excluded.name WHERE r.party > 0 RETURNING r.id",
    "INSERT INTO reservation (id, name) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET party = 1 "
    "RETURNING *, (xmax = 0) AS inserted, reservation.tableoid::regclass",
    # RETURNING, FROM / USING.
    "DELETE FROM reservation WHERE id = 3 RETURNING *",
    "UPDATE reservation AS r SET party = 4 WHERE id = $1 RETURNING r.id, party * 2",
    "UPDATE reservation r SET party = o.n FROM other o WHERE o.id = r.id RETURNING *",
    "DELETE FROM reservation r USING other o, billing.x AS b WHERE o.id = r.id "
    "RETURNING r.id, o.x, b.*",
    "WITH c AS (SELECT 1 AS id) UPDATE reservation r SET party = 1 FROM c, (SELECT 2 AS k) s, "
    "other o JOIN third t ON t.id = o.id WHERE r.id = c.id RETURNING *",
    "UPDATE reservation r SET party = g.n FROM generate_series(1, 3) AS g(n) WHERE r.id = g.n "
    "RETURNING r.id, g.n",
    "UPDATE reservation r SET party = 1 FROM unnest($1::int[]) AS ids WHERE r.id = ids RETURNING ids",
    "UPDATE reservation r SET party = o.a FROM other o(a, b) WHERE o.a = r.id RETURNING o.b",
    "UPDATE reservation r SET party = 2 RETURNING r.ctid, r",
    "UPDATE public.reservation SET party = 1 RETURNING public.reservation.id",
    "DELETE FROM reservation WHERE id = 1 RETURNING reservation",
    "UPDATE reservation AS name SET party = 1 RETURNING name",
    "UPDATE reservation SET party = 1 -- why\n  RETURNING\tid /* c */ , name",
    "UPDATE reservation SET party = $2 WHERE id = $1 RETURNING party + $3",
    # WITH.
    "WITH u AS (DELETE FROM reservation RETURNING *) SELECT * FROM u",
    "WITH t AS (SELECT 1 AS n) UPDATE reservation SET party = (SELECT n FROM t)",
    "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
    "DELETE FROM reservation WHERE id IN (SELECT n FROM t)",
    "WITH u(i) AS (UPDATE reservation SET party = 1 RETURNING id), "
    "d AS (DELETE FROM invoice WHERE no = 2) SELECT * FROM u",
    "WITH u AS (DELETE FROM reservation WHERE id = 1 RETURNING id) "
    "INSERT INTO reservation (id) SELECT id + 100 FROM u",
    "WITH u AS NOT MATERIALIZED (UPDATE reservation SET party = 1 RETURNING *) SELECT * FROM u",
    # Several statements, comments.
    "SELECT 1; UPDATE reservation SET party = 2; select 'reservation'",
    "DELETE FROM reservation;DELETE FROM invoice;",
    "UPDATE reservation SET party = 1; -- the end",
    "/* lead */ UPDATE reservation SET party = 1",
    "delete /* a */ from /* b */ reservation where id = 2",
    "/* nested /* comment */ still */ UPDATE reservation SET party = 1",
    ";;SELECT 1;;",
    # PREPARE and friends.
    "PREPARE p (int, int) AS UPDATE reservation SET party = $1 WHERE id = $2",
    'prepare "Q" as delete from reservation where id = $1 returning id',
    "PREPARE s AS SELECT * FROM reservation",
    "EXECUTE a; DEALLOCATE a; SELECT 1",
    "DEALLOCATE ALL",
    "DISCARD ALL",
    "CREATE TABLE t AS EXECUTE up(1)",
    # Refused or bookkeeping only.
    "TRUNCATE TABLE other, public.reservation",
    "TRUNCATE reservation_rev",
    "COPY reservation FROM STDIN",
    "COPY reservation (id, name) FROM '/tmp/x' WITH (FORMAT csv)",
    "COPY (DELETE FROM reservation RETURNING *) TO STDOUT",
    "COPY reservation TO STDOUT",
    "MERGE INTO reservation r USING other o ON o.id = r.id WHEN MATCHED THEN UPDATE SET party = o.n",
    "MERGE INTO billing.invoice_rev r USING other o ON true WHEN MATCHED THEN DELETE",
    "EXPLAIN (ANALYZE false, ANALYZE true) UPDATE reservation SET party = 1",
    "EXPLAIN ANALYZE WITH u AS (DELETE FROM reservation RETURNING *) SELECT * FROM u",
    "INSERT INTO reservation_rev (rev_id) VALUES (gen_random_uuid()) "
    "ON CONFLICT (rev_id) DO UPDATE SET id = 1",
    "ALTER TABLE reservation ADD COLUMN note text",
    "DROP TABLE IF EXISTS other, public.reservation CASCADE",
    "ALTER TABLE reservation_rev RENAME TO old",
    "UPDATE billing.ledger SET x = 1",
    "SELECT * FROM (SELECT 1) s WHERE EXISTS (SELECT 1 FROM reservation FOR UPDATE)",
    "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM reservation'",
    "DO $$BEGIN DELETE FROM reservation; END$$",
    "UPDATE reservation SET party = WHERE",
    "UPDATE reservation SET name = 'it''s",
    # Places a write can hide in (these do not write an audited table themselves).
    "WITH d AS (SELECT 1 AS id) MERGE INTO other o USING d ON o.id = d.id WHEN MATCHED THEN DELETE",
    "PREPARE m AS MERGE INTO other o USING (SELECT 1 AS id) s ON o.id = s.id "
    "WHEN NOT MATCHED THEN INSERT VALUES (s.id)",
    "CREATE TABLE t AS WITH d AS (SELECT 1) SELECT * FROM d",
    "WITH d AS (SELECT 1) SELECT * INTO t FROM d",
    "DECLARE c CURSOR FOR WITH d AS (SELECT 1) SELECT * FROM d",
    "CREATE FUNCTION f() RETURNS void BEGIN ATOMIC DELETE FROM reservation; END",
    "CREATE RULE r AS ON INSERT TO other DO ALSO DELETE FROM reservation",
    "EXPLAIN (ANALYZE 'off') UPDATE reservation SET party = 1",
    "UPDATE other r SET x = 1 RETURNING U&\"r\" UESCAPE '!', U&\"r\" UESCAPE '!'.*",
    # Quoting the lexer must skip whole.
    "SELECT 'update', \"update\", $$update$$, $u$ delete $u$, E'update\\'', U&'update', "
    "/* update /* insert */ */ 1 -- delete",
    "UPDATE reservation SET party = 1 $pgrev$;DELETE FROM reservation;$pgrev$",
    "UPDATE reservation SET name = $a$x$b$y$a$ WHERE id = $1",
    "UPDATE reservation SET name = E'a\\'b' || B'101'::text || X'1F'::text RETURNING 1e-5, .5",
    "UPDATE \"reservation\" SET \"name\" = U&'d\\0061t\\+000061' RETURNING \"reservation\".*",
    "UPDATE reservation SET name = 'caf\u00e9' WHERE name = '\u65e5\u672c' RETURNING '\u00e9'",
    # Where the server's scanner ends comments and strings (issue 7 item 1).
    "UPDATE reservation SET party = 43 WHERE id > 0 --\rAND false",
    "UPDATE reservation SET name = 'a'\r\n  'b' WHERE id = 1 --\r\nRETURNING id",
    "UPDATE reservation SET name = 'a' -- c\n'b' WHERE id = 1",
]

SQL_LEXER_EXTRA = [
    "(')' /* ( */ \")\")",
    "SELECT \"a\"\"b\", 'it''s' FROM Tab_1$x",
    "SELECT $q$ UPDATE t",
    "SELECT E'abc\\'",
    "((a, (b)), c)) (",
    "x$1$2 $1abc $ $$ $_$ $1$",
    "1e+ 1.2.3 ..5 u&x U&'x' u&\"y\" n'z' b'0' x'f' e'\\\\'",
    "/* unterminated /* nested */",
    "-- only a comment",
    "a +--x\n*/* c */ 1..5 $a$ x $b$ $a$ U&\"x\" UESCAPE $$!$$ :: := => <=> @- =- \v",
    "SELECT 'a'\n'b', E'x\\'y' -- c\n, N'q', B'01''10', x'1' \n 'f'",
    "select ?|, ?-|, !=-, ~~*-, |/--x\r-, 1.., ..., 1...2, 1.e+5, a[1:2], $0, \f1\t,\r2",
]


def message(type_byte, body=b""):
    return type_byte + struct.pack(">I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def stream_seed(messages, flags=0, cuts=(0x40, 0x80, 0xC0)):
    return bytes([flags, *cuts]) + b"".join(messages)


def protocol_seeds():
    q = message(b"Q", cstr("SELECT 1; UPDATE reservation SET party = 1"))
    parse = message(b"P", cstr("s1") + cstr("UPDATE reservation SET party = $1") +
                    struct.pack(">hI", 1, 23))
    bind = message(b"B", cstr("") + cstr("s1") + struct.pack(">hhhi", 1, 0, 1, 1) + b"5" +
                   struct.pack(">h", 0))
    describe = message(b"D", b"P" + cstr(""))
    execute = message(b"E", cstr("") + struct.pack(">i", 0))
    close = message(b"C", b"S" + cstr("s1"))
    sync = message(b"S")
    flush = message(b"H")
    terminate = message(b"X")
    fcall = message(b"F", struct.pack(">Ihhi", 1598, 0, 1, 2) + b"42" + struct.pack(">h", 0))
    copy_data = message(b"d", b"1\tSteve\n")
    copy_done = message(b"c")
    password = message(b"p", cstr("secret"))

    auth_ok = message(b"R", struct.pack(">i", 0))
    auth_md5 = message(b"R", struct.pack(">i", 5) + b"salt")
    param = message(b"S", cstr("server_version") + cstr("15.4"))
    key = message(b"K", struct.pack(">ii", 4242, 123456789))
    ready = message(b"Z", b"I")
    ready_t = message(b"Z", b"T")
    row_desc = message(b"T", struct.pack(">h", 1) + cstr("?column?") +
                       struct.pack(">IhIhih", 0, 0, 23, 4, -1, 0))
    data_row = message(b"D", struct.pack(">hi", 1, 1) + b"1")
    complete = message(b"C", cstr("SELECT 1"))
    complete_upd = message(b"C", cstr("INSERT 0 3"))
    parse_complete = message(b"1")
    bind_complete = message(b"2")
    close_complete = message(b"3")
    empty = message(b"I")
    suspended = message(b"s")
    error = message(b"E", b"S" + cstr("ERROR") + b"V" + cstr("ERROR") + b"C" + cstr("42P01") +
                    b"M" + cstr('relation "nope" does not exist') + b"P" + cstr("15") + b"\0")
    fatal = message(b"E", b"S" + cstr("FATAL") + b"V" + cstr("FATAL") + b"C" + cstr("57P01") +
                    b"M" + cstr("terminating connection") + b"\0")
    notice = message(b"N", b"S" + cstr("NOTICE") + b"C" + cstr("00000") + b"M" + cstr("hi") + b"\0")
    copy_in = message(b"G", struct.pack(">bhh", 0, 1, 0))

    seeds = {
        "simple_query": stream_seed([q, sync]),
        "extended": stream_seed([parse, bind, describe, execute, close, sync, flush]),
        "pipeline": stream_seed([parse, bind, execute, parse, bind, execute, sync, q]),
        "function_copy": stream_seed([fcall, copy_data, copy_done, password, terminate]),
        "startup_answers": stream_seed([auth_ok, param, key, ready]),
        "auth_md5": stream_seed([auth_md5], flags=0x01),
        "query_answers": stream_seed([row_desc, data_row, complete, complete_upd, ready_t]),
        "extended_answers": stream_seed([parse_complete, bind_complete, row_desc, data_row,
                                         suspended, complete, close_complete, empty, ready]),
        "errors": stream_seed([notice, error, ready, fatal]),
        "copy_in": stream_seed([copy_in, copy_data, copy_done]),
        "all_whole_suspending": stream_seed([q, parse, bind, execute, sync, complete, error, ready],
                                            flags=0x31),
        "none_whole": stream_seed([q, data_row, data_row, complete, ready], flags=0x02),
        "small_limit": stream_seed([sync, flush, q], flags=0x0C),
        "bad_length": stream_seed([sync, b"Q\0\0\0\x02"]),
        "too_large": stream_seed([b"D\x7f\xff\xff\xff" + b"x" * 16], flags=0x04),
        "copy_in_pipeline": stream_seed([message(b"Q", cstr("bopy t from stdin")),
                                         message(b"P", cstr("") + cstr("RESET client_encoding") +
                                                 struct.pack(">h", 0)),
                                         sync, copy_in, copy_data, copy_done, ready, ready]),
        "cut_in_header": stream_seed([q, ready], cuts=(0x01, 0x02, 0x03)),
    }
    return seeds


def startup_seeds():
    def packet(code, body=b""):
        return struct.pack(">II", len(body) + 8, code) + body

    params = b"".join(cstr(s) for s in ["user", "alice", "database", "shop",
                                         "application_name", "psql", "client_encoding", "UTF8"])
    return {
        "startup": packet(3 << 16, params + b"\0"),
        "startup_user_only": packet(3 << 16, cstr("user") + cstr("bob") + b"\0"),
        "startup_minor": packet((3 << 16) | 2, cstr("user") + cstr("bob") + b"\0"),
        "startup_options": packet(3 << 16, cstr("user") + cstr("u") + cstr("options") +
                                  cstr("-c search_path=billing") + cstr("replication") +
                                  cstr("database") + b"\0"),
        "ssl_request": packet(80877103),
        "gssenc_request": packet(80877104),
        "cancel_request": packet(80877102, struct.pack(">ii", 4242, 123456789)),
        "protocol2": packet(2 << 16, cstr("user") + cstr("x") + b"\0"),
        "no_user": packet(3 << 16, cstr("database") + cstr("x") + b"\0"),
        "trailing": packet(3 << 16, cstr("user") + cstr("x") + b"\0" + b"junk"),
        "short": struct.pack(">I", 4),
    }


def write(target, named):
    folder = CORPUS / target
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in named.items():
        (folder / name).write_bytes(data)


def sql_named(texts):
    return {f"{i:03d}_{hashlib.sha1(t.encode()).hexdigest()[:8]}": t.encode()
            for i, t in enumerate(texts)}


def main():
    write("fuzz_rewriter", sql_named(SQL))
    write("fuzz_sql_lexer", sql_named(SQL[::3] + SQL_LEXER_EXTRA))
    write("fuzz_message_stream", protocol_seeds())
    write("fuzz_startup_packet", startup_seeds())


if __name__ == "__main__":
    main()
