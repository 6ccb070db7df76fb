#!/usr/bin/env bash
# Throughput of pgrev against direct PostgreSQL and pgbouncer, measured in one run on this
# machine, printed as ratios. Not a test: numbers depend on the machine; only the ratios of
# one run mean something.
#
#   bash bench/run.sh [--tls] [seconds-per-run]     (default 10)
#
# Starts its own PostgreSQL 15 (as user pgrev-test when root), pgbouncer in session mode and
# pgrev, all on free ports under a temporary directory, and removes everything at the end.
# PGREV_BIN=/path/to/pgrev measures another pgrev binary (default build/pgrev).
#
# --tls: TLS on every leg, so the cost of TLS is measured. The run makes a CA and two
# certificates (PostgreSQL's; one for pgbouncer and pgrev, the same files for both) with the
# openssl tool. PostgreSQL has ssl=on and a pg_hba.conf accepting only hostssl, so a proxy that
# talks to it in clear cannot connect; pgbouncer has client_tls_sslmode and server_tls_sslmode
# require; pgrev has tls.client.sslmode and tls.upstream.sslmode require; psql and pgbench run
# with PGSSLMODE=require, so a listener that does not do TLS is refused. A target that cannot
# be reached is shown as "-" with the reason, the others are still measured.
# pgbench's TPC-B-like load runs with 4 clients in -M simple and -M prepared against:
#   direct       PostgreSQL itself
#   pgbouncer    pgbouncer, session pooling
#   pgrev        pgrev, no audited table touched (the fast path)
#   pgrev-audit  pgrev auditing pgbench_accounts (every UPDATE also writes a revision)
#   trigger      PostgreSQL with a PL/pgSQL row trigger writing the same revisions
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
usage() {  # prints the comment block at the top of this file
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}
tls=0
secs=10
for arg in "$@"; do
    case "$arg" in
        --tls) tls=1 ;;
        -h | --help) usage; exit 0 ;;
        *[!0-9]* | "") echo "run.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
        *) secs=$arg ;;
    esac
done
bindir=/usr/lib/postgresql/15/bin
pgrev_bin=${PGREV_BIN:-build/pgrev}
[[ -n "${PGREV_BIN:-}" || -x build/pgrev ]] || bash scripts/build.sh
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

pg_tls_options=
bouncer_tls=
pgrev_tls=
if [[ "$tls" == 1 ]]; then
    # One CA; PostgreSQL's certificate and the proxies' (pgbouncer and pgrev present the same
    # one), both valid for localhost and 127.0.0.1.
    certs=$work/tls
    mkdir "$certs"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pgrev bench CA" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        -keyout "$certs/ca.key" -out "$certs/ca.crt" 2>/dev/null
    for name in postgres proxy; do
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout "$certs/$name.key" -out "$certs/$name.csr" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
            > "$certs/$name.ext"
        openssl x509 -req -in "$certs/$name.csr" -CA "$certs/ca.crt" -CAkey "$certs/ca.key" \
            -CAcreateserial -days 2 -extfile "$certs/$name.ext" -out "$certs/$name.crt" 2>/dev/null
    done
    # PostgreSQL wants its key readable by its own user only.
    chmod 600 "$certs"/*.key
    [[ ${#run_as[@]} -eq 0 ]] || chown -R pgrev-test "$certs"
    pg_tls_options="-c ssl=on -c ssl_cert_file=$certs/postgres.crt"
    pg_tls_options+=" -c ssl_key_file=$certs/postgres.key"
    bouncer_tls="client_tls_sslmode = require
client_tls_cert_file = $certs/proxy.crt
client_tls_key_file = $certs/proxy.key
server_tls_sslmode = require"
    pgrev_tls="tls:
  client: {sslmode: require, cert_file: $certs/proxy.crt, key_file: $certs/proxy.key}
  upstream: {sslmode: require}
"
    # Every client here (psql, pgbench) insists on TLS.
    export PGSSLMODE=require
fi

"${run_as[@]}" "$bindir/initdb" -D "$work/data" -U postgres --auth=trust >/dev/null
if [[ "$tls" == 1 ]]; then
    # Only TLS over TCP: a proxy that talks to PostgreSQL in clear is refused.
    printf 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n' > "$work/data/pg_hba.conf"
fi
"${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=100 $pg_tls_options" \
    start >/dev/null

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
$bouncer_tls
INI
echo '"postgres" ""' > "$work/userlist.txt"
chmod 644 "$work/pgbouncer.ini" "$work/userlist.txt"
"${run_as[@]}" pgbouncer "$work/pgbouncer.ini" >/dev/null 2>&1 &
pids+=($!)

printf 'listen: 127.0.0.1:%s\nupstream: 127.0.0.1:%s\nlog: {level: warn}\n%s' \
    "$pgrev_port" "$pg_port" "$pgrev_tls" > "$work/pgrev.yaml"
printf 'listen: 127.0.0.1:%s\nupstream: 127.0.0.1:%s\naudit: {tables: [pgbench_accounts]}\nlog: {level: warn}\n%s' \
    "$audit_port" "$pg_port" "$pgrev_tls" > "$work/pgrev-audit.yaml"

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

"$pgrev_bin" --config "$work/pgrev.yaml" 2>"$work/pgrev.log" &
pids+=($!)
"$pgrev_bin" --config "$work/pgrev-audit.yaml" 2>"$work/pgrev-audit.log" &
pids+=($!)
sleep 1

sql() { "$bindir/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres postgres -c "$1"; }
declare -A port=([direct]=$pg_port [pgbouncer]=$bouncer_port [pgrev]=$pgrev_port
                 [pgrev-audit]=$audit_port [trigger]=$pg_port)
# A proxy that does not answer (or, with --tls, does not speak TLS on both legs) is left out
# of the runs and shown as "-", so the others are still measured.
declare -A down=()
for target in pgbouncer pgrev pgrev-audit; do
    if ! err=$("$bindir/psql" -X -q -h 127.0.0.1 -p "${port[$target]}" -U postgres postgres \
        -c 'SELECT 1' 2>&1 >/dev/null); then
        down[$target]=$(head -1 <<<"$err")
        echo "run.sh: $target left out: ${down[$target]}" >&2
        log=$work/$target.log
        [[ ! -s "$log" ]] || echo "run.sh: $target's log ends: $(tail -1 "$log")" >&2
    fi
done
tps() {  # port mode -> tps; each run starts from a checkpoint so runs see the same state
    sql CHECKPOINT
    local out
    if out=$(pgbench -p "$1" -M "$2" -c 4 -j 2 -T "$secs" postgres 2>"$work/pgbench.err"); then
        awk '/^tps/ {print $3; exit}' <<<"$out"
    else  # an aborted run's tps would be a wrong number: none at all
        echo "run.sh: pgbench -M $2 on port $1 failed: $(tail -1 "$work/pgbench.err")" >&2
    fi
}
declare -A result
run() {  # target mode
    [[ -z "${down[$1]:-}" ]] || return 0
    result[$1,$2]=$(tps "${port[$1]}" "$2")
}
tps "$pg_port" simple >/dev/null  # warm-up: caches, autovacuum after pgbench -i
for mode in simple prepared; do
    run direct "$mode"
    run pgbouncer "$mode"
    run pgrev "$mode"
    run pgrev-audit "$mode"
    sql "CREATE TRIGGER audit AFTER UPDATE ON pgbench_accounts FOR EACH ROW EXECUTE FUNCTION audit_accounts()"
    run trigger "$mode"
    sql "DROP TRIGGER audit ON pgbench_accounts"
done

val() { echo "${result[$1,$2]:-}"; }  # target mode -> tps, empty when not measured
num() { if [[ -n "$1" ]]; then printf '%.0f' "$1"; else printf -- -; fi; }
ratio() {  # a b -> a / b with two decimals, "-" when one is missing
    if [[ -n "$1" && -n "$2" ]]; then
        printf '%.2f' "$(echo "$1 / $2" | bc -l)"
    else
        printf -- -
    fi
}
short_ratio() {
    if [[ -n "$1" && -n "$2" ]]; then echo "$1 / $2" | bc -l | cut -c1-4; else echo -; fi
}
echo
echo "pgbench TPC-B-like, scale 10, 4 clients, ${secs}s per run, $(nproc) cores"
if [[ "$tls" == 1 ]]; then
    # What PostgreSQL sees of each upstream leg; the client legs are TLS by PGSSLMODE=require.
    legs=
    for target in direct pgbouncer pgrev; do
        [[ -z "${down[$target]:-}" ]] || continue
        leg=$("$bindir/psql" -X -At -F ' ' -h 127.0.0.1 -p "${port[$target]}" -U postgres \
            -c 'SELECT version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()' \
            postgres 2>/dev/null || true)
        legs+="${legs:+; }$target: ${leg:-?}"
    done
    echo "TLS on both legs, sslmode=require, no certificate verification ($legs)"
fi
printf '%-12s %12s %9s %12s %9s\n' target "simple tps" "/direct" "prepared tps" "/direct"
for target in direct pgbouncer pgrev pgrev-audit trigger; do
    simple=$(val "$target" simple)
    prepared=$(val "$target" prepared)
    printf '%-12s %12s %9s %12s %9s\n' "$target" \
        "$(num "$simple")" "$(ratio "$simple" "$(val direct simple)")" \
        "$(num "$prepared")" "$(ratio "$prepared" "$(val direct prepared)")"
done
echo
echo "pgrev vs pgbouncer (simple): $(short_ratio "$(val pgrev simple)" "$(val pgbouncer simple)")"
echo "pgrev-audit vs pgrev (prepared), the cost of the revisions:" \
    "$(short_ratio "$(val pgrev-audit prepared)" "$(val pgrev prepared)")"
echo "pgrev-audit vs trigger (prepared):" \
    "$(short_ratio "$(val pgrev-audit prepared)" "$(val trigger prepared)")"
