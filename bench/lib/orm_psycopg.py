"""The ORM workload of orm.sql through a real driver in the extended protocol, with the
sqlcommenter comment differing in every statement (pgbench cannot do that outside
-M simple: it turns a :variable inside a comment into a $n).

    python3 orm_psycopg.py --port PORT --table orders_audited --clients 8 --seconds 5

psycopg 3 with prepare_threshold=None sends every statement as an unnamed Parse, Bind,
Describe, Execute (as node-postgres does, and psycopg 3 below its threshold); BEGIN and
COMMIT are simple Queries. Each client is its own process, so they run in parallel.
Prints pgbench's two summary lines ("number of transactions actually processed: N",
"tps = X"), so bench/run.sh reads it like a pgbench run. PGSSLMODE applies (libpq).
"""
import argparse
import multiprocessing
import random
import time

import psycopg


def statements(table):
    columns = ", ".join(f'"{table}"."{c}"' for c in
                        ("id", "customer_id", "status", "total", "created_at", "updated_at"))
    select = f'SELECT {columns} FROM "{table}" WHERE "{table}"."id" = %s LIMIT 1'
    update = (f'UPDATE "{table}" SET "status" = %s, "total" = %s, "updated_at" = now() '
              f'WHERE "{table}"."id" = %s')
    insert = (f'INSERT INTO "{table}" ("customer_id", "status", "total", "created_at", '
              f'"updated_at") VALUES (%s, %s, %s, now(), now()) RETURNING "{table}"."id"')
    return select, update, insert


def client(port, table, start_at, seconds, counts, index):
    select, update, insert = statements(table)
    conn = psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                           prepare_threshold=None)
    done = 0
    time.sleep(max(0.0, start_at - time.time()))
    stop_at = start_at + seconds
    while time.time() < stop_at:
        trace = f"{random.getrandbits(128):032x}"

        def tagged(sql):  # a new span id for every statement, as sqlcommenter does
            return (sql + " /*controller='orders',action='update',traceparent='00-"
                    f"{trace}-{random.getrandbits(64):016x}-01'*/")
        oid = random.randint(1, 100000)
        total = random.randint(100, 99999) / 100
        with conn.cursor() as cur:
            cur.execute(tagged(select), (oid,))
            cur.fetchall()
            cur.execute(tagged(update), ("paid", total, oid))
            cur.execute(tagged(insert), (random.randint(1, 10000), "new", total))
            cur.fetchone()
        conn.commit()
        done += 1
    counts[index] = done
    conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    counts = multiprocessing.Array("l", args.clients)
    start_at = time.time() + 1.0  # every client connected first, as pgbench's tps excludes it
    processes = [multiprocessing.Process(target=client, args=(
        args.port, args.table, start_at, args.seconds, counts, i)) for i in range(args.clients)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if any(process.exitcode != 0 for process in processes):
        raise SystemExit("orm_psycopg.py: a client failed")
    total = sum(counts)
    print(f"number of transactions actually processed: {total}")
    print(f"tps = {total / args.seconds:.6f} (without initial connection time)")


if __name__ == "__main__":
    main()
