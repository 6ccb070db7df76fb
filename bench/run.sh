#!/usr/bin/env bash
# Throughput of pgrev against direct PostgreSQL and pgbouncer, measured in one run on this
# machine, printed as ratios. Not a test: numbers depend on the machine; only the ratios of
# one run mean something.
#
#   bash bench/run.sh [seconds-per-run]     (default 10)
#
# Starts its own PostgreSQL 15 (as user pgrev-test when root), pgbouncer in session mode and
# pgrev, all on free ports under a temporary directory, and removes everything at the end.
# pgbench's TPC-B-like load runs with 4 clients in -M simple and -M prepared against:
#   direct       PostgreSQL itself
#   pgbouncer    pgbouncer, session pooling
#   pgrev        pgrev, no audited table touched (the fast path)
#   pgrev-audit  pgrev auditing pgbench_accounts (every UPDATE also writes a revision)
#   trigger      PostgreSQL with a PL/pgSQL row trigger writing the same revisions
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
secs=${1:-10}
bindir=/usr/lib/postgresql/15/bin
[[ -x build/pgrev ]] || bash scripts/build.sh
if ! command -v pgbouncer >/dev/null; then
    bash scripts/install-deps.sh --bench
fi

work=$(mktemp -d /tmp/pgrev-bench.XXXXXX)
chmod 755 "$work"
run_as=()
if [[ $(id -u) == 0 ]]; then
    id pgrev-test >/dev/null 2>&1 || useradd --system --no-create-home pgrev-test
    chown pgrev-test "$work"
    run_as=(runuser -u pgrev-test --)
fi
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port=$(free_port); bouncer_port=$(free_port); pgrev_port=$(free_port); audit_port=$(free_port)

"${run_as[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
"${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=100" start >/dev/null

cat > "$work/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 100
default_pool_size = 20
logfile = $work/pgbouncer.log
pidfile = $work/pgbouncer.pid
INI
echo '"postgres" ""' > "$work/userlist.txt"
chmod 644 "$work/pgbouncer.ini" "$work/userlist.txt"
"${run_as[@]}" pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
pids+=($!)

printf 'listen: 127.0.0.1:%s\nupstream: 127.0.0.1:%s\nlog: {level: warn}\n' \
    "$pgrev_port" "$pg_port" > "$work/pgrev.yaml"
printf 'listen: 127.0.0.1:%s\nupstream: 127.0.0.1:%s\naudit: {tables: [pgbench_accounts]}\nlog: {level: warn}\n' \
    "$audit_port" "$pg_port" > "$work/pgrev-audit.yaml"

pgbench() { "$bindir/pgbench" -h 127.0.0.1 -U postgres "$@"; }
pgbench -i -s 10 -p "$pg_port" postgres >/dev/null 2>&1
# Revisions of pgbench_accounts go to a table like the one pgrev creates; the trigger run
# writes the same rows into its own copy.
"$bindir/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres postgres <<'SQL'
CREATE TABLE pgbench_accounts_trig (rev_id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rev_created double precision NOT NULL, rev_isdelete boolean NOT NULL DEFAULT false,
  aid int, bid int, abalance int, filler char(84));
CREATE FUNCTION audit_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO pgbench_accounts_trig (rev_created, rev_isdelete, aid, bid, abalance, filler)
  VALUES (extract(epoch from clock_timestamp()), false, NEW.aid, NEW.bid, NEW.abalance, NEW.filler);
  RETURN NULL;
END $$;
SQL

build/pgrev --config "$work/pgrev.yaml" 2>"$work/pgrev.log" &
pids+=($!)
build/pgrev --config "$work/pgrev-audit.yaml" 2>"$work/pgrev-audit.log" &
pids+=($!)
sleep 1

sql() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres postgres -c "$1"; }
tps() {  # port mode -> tps; each run starts from a checkpoint so runs see the same state
    sql CHECKPOINT
    pgbench -p "$1" -M "$2" -c 4 -j 2 -T "$secs" postgres 2>/dev/null |
        awk '/^tps/ {print $3; exit}'
}
tps "$pg_port" simple >/dev/null  # warm-up: caches, autovacuum after pgbench -i
declare -A result
for mode in simple prepared; do
    result[direct,$mode]=$(tps "$pg_port" "$mode")
    result[pgbouncer,$mode]=$(tps "$bouncer_port" "$mode")
    result[pgrev,$mode]=$(tps "$pgrev_port" "$mode")
    result[pgrev-audit,$mode]=$(tps "$audit_port" "$mode")
    sql "CREATE TRIGGER audit AFTER UPDATE ON pgbench_accounts FOR EACH ROW EXECUTE FUNCTION audit_accounts()"
    result[trigger,$mode]=$(tps "$pg_port" "$mode")
    sql "DROP TRIGGER audit ON pgbench_accounts"
done

echo
echo "pgbench TPC-B-like, scale 10, 4 clients, ${secs}s per run, $(nproc) cores"
printf '%-12s %12s %9s %12s %9s\n' target "simple tps" "/direct" "prepared tps" "/direct"
for target in direct pgbouncer pgrev pgrev-audit trigger; do
    printf '%-12s %12.0f %9.2f %12.0f %9.2f\n' "$target" \
        "${result[$target,simple]}" "$(echo "${result[$target,simple]} / ${result[direct,simple]}" | bc -l)" \
        "${result[$target,prepared]}" "$(echo "${result[$target,prepared]} / ${result[direct,prepared]}" | bc -l)"
done
echo
echo "pgrev vs pgbouncer (simple): $(echo "${result[pgrev,simple]} / ${result[pgbouncer,simple]}" | bc -l | cut -c1-4)"
echo "pgrev-audit vs pgrev (prepared), the cost of the revisions: $(echo "${result[pgrev-audit,prepared]} / ${result[pgrev,prepared]}" | bc -l | cut -c1-4)"
echo "pgrev-audit vs trigger (prepared): $(echo "${result[pgrev-audit,prepared]} / ${result[trigger,prepared]}" | bc -l | cut -c1-4)"
