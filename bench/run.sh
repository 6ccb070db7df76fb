#!/usr/bin/env bash
# Every figure of issue 11 from one run on this machine: pgrev against pgbouncer + a
# PL/pgSQL audit trigger, against pgbouncer alone and against PostgreSQL directly. Not a
# test: numbers depend on the machine; only the ratios of one run mean something.
#
#   bash bench/run.sh [--tls] [--rounds N] [--markdown FILE] [seconds-per-run]
#
# seconds-per-run defaults to 5 and --rounds to 3: 78 runs per round of about
# seconds + 1.3 s each, so about 23 minutes in all on a 2-core machine (22.5 measured).
# Rounds alternate (round 1 measures every cell once, then round 2, ...); each figure is
# the median of its cell over the rounds. Before every run the tables it writes are reset
# (rows added by earlier runs removed, revision tables emptied, VACUUM, CHECKPOINT).
#
# Starts its own PostgreSQL 15 (as user pgrev-test when root), pgbouncer in session mode and
# one pgrev, on free ports under a temporary directory removed at the end. pgrev audits
# accounts_audited, events_audited and orders_audited; their twins *_plain (same rows, not
# audited, names the audit prefilter does not match) go through the same pgrev process;
# *_trig carry a row trigger writing the same revision rows and are reached through
# pgbouncer. PGREV_BIN=/path/to/pgrev measures another binary (default build/pgrev).
# Workloads (bench/lib/*.sql, pgbench -j 2, -M simple, extended and prepared):
#   update  UPDATE one random row of 100,000                  1 statement per transaction
#   insert  INSERT with a bigserial key and column defaults    1
#   delete  BEGIN; DELETE a random row; INSERT it back; END    4 (2 on the table)
#   orm     BEGIN; SELECT, UPDATE, INSERT ... RETURNING "id", quoted identifiers and a
#           sqlcommenter comment (in -M simple its traceparent differs in every statement;
#           pgbench would make a :variable in it a $n otherwise, so there it is fixed); COMMIT
#                                                              5 (3 on the table)
#   orm-psycopg  orm's transaction through psycopg 3 (bench/lib/orm_psycopg.py, -c 8 only):
#           unnamed Parse for every statement and the comment differing in every one
#   select  pgbench -S on pgbench_accounts (pass-through)      1
# CPU per statement: utime+stime of the whole proxy process (/proc/PID/stat, all threads)
# over the run / (transactions * statements per transaction). Audit CPU: pgrev's CPU per
# transaction on the audited table minus on its twin, divided by the statements that name
# the table (BEGIN/COMMIT not counted, which makes it the stricter figure).
# Also: one UPDATE of 10,000 audited rows (psql, 2 per round, through pgrev against the
# trigger through pgbouncer) and the VmRSS per idle session (250 sessions that each ran one
# SELECT, bench/lib/idle_rss.py, on a pgrev and a pgbouncer started fresh for it).
# Every audited and trigger run is checked: revisions written = rows changed, none for the
# twins; mismatches are listed at the end.
# pgrev runs with its default `workers: 0`, one I/O thread per core (PGREV_WORKERS=N for
# another count; pgbouncer has one thread): on 2 cores that PostgreSQL and pgbench share,
# `workers: 1` costs less CPU per statement (fewer wake-ups, more events per wait) and two
# threads give more TPS.
#
# --markdown FILE also writes what it prints (command, machine, tables) to FILE; when FILE
# has the lines <!-- bench/run.sh --markdown: begin --> and <!-- ... end --> only the text
# between them is replaced (bash bench/run.sh --markdown bench/RESULTS.md regenerates it).
# --tls: TLS on every leg (the run makes a CA and certificates with openssl; PostgreSQL
# accepts only hostssl; pgbouncer and pgrev require TLS on both sides; clients run with
# PGSSLMODE=require; CPU figures then include the handshakes of each run's connections).
# A target that cannot be reached is shown as "-" with the reason, the others are measured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
usage() {  # prints the comment block at the top of this file
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}
tls=0 secs=5 rounds=3 markdown='' given="$*"
while (($#)); do
    case "$1" in
        --tls) tls=1 ;;
        --rounds) rounds=${2:?--rounds needs a number}; shift ;;
        --markdown) markdown=${2:?--markdown needs a file}; shift ;;
        -h | --help) usage; exit 0 ;;
        *[!0-9]* | "") echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
        *) secs=$1 ;;
    esac
    shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds must be a positive number" >&2; exit 2; }
[[ -z "$markdown" || "$markdown" == /* ]] || markdown=$OLDPWD/$markdown
bindir=/usr/lib/postgresql/15/bin
pgrev_bin=${PGREV_BIN:-build/pgrev}
pgrev_workers=${PGREV_WORKERS:-0}
[[ "$pgrev_workers" =~ ^[0-9]+$ ]] || { echo "run.sh: PGREV_WORKERS must be a number" >&2; exit 2; }
[[ -n "${PGREV_BIN:-}" || -x build/pgrev ]] || bash scripts/build.sh
command -v pgbouncer >/dev/null || bash scripts/install-deps.sh --bench
started=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)  # other work on the machine shows in the figures
lib=bench/lib

if ! pgrev_version=$("$pgrev_bin" --version 2>/dev/null | head -1); then
    echo "run.sh: $pgrev_bin --version fails: not a (complete) pgrev binary" >&2
    exit 1
fi
if commit=$(git -C "$(dirname "$pgrev_bin")" rev-parse --short HEAD 2>/dev/null); then
    git -C "$(dirname "$pgrev_bin")" diff --quiet HEAD 2>/dev/null || commit+=", with uncommitted changes"
    pgrev_version+=" (the binary's tree is at commit $commit)"
fi
if [[ -n "$pgrev_version" ]]; then
    pgrev_version+=", built $(date -u -r "$pgrev_bin" '+%F %H:%M UTC')"
fi
work=$(mktemp -d /tmp/pgrev-bench.XXXXXX)
chmod 755 "$work"
# A copy, so a rebuild during the run does not change the binary measured.
cp "$pgrev_bin" "$work/pgrev"
pgrev_bin=$work/pgrev
run_as=()
if [[ $(id -u) == 0 ]]; then
    id pgrev-test >/dev/null 2>&1 || useradd --system --no-create-home pgrev-test
    chown pgrev-test "$work"
    run_as=(runuser -u pgrev-test --)
fi
cleanup() {  # the proxies by their pidfiles, then PostgreSQL
    local pidfile
    for pidfile in "$work"/*.pid; do [[ ! -s "$pidfile" ]] || kill "$(<"$pidfile")" 2>/dev/null || true; done
    "${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
note() { echo "run.sh: $*" >&2; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pg_port=$(free_port)

pg_tls_options='' bouncer_tls='' pgrev_tls=''
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
# 250 idle sessions through pgrev are 250 server sessions, besides pgbouncer's pool. No
# autovacuum: run.sh vacuums before every run, so no run meets one another did not.
"${run_as[@]}" "$bindir/pg_ctl" -D "$work/data" -l "$work/pg.log" -w \
    -o "-p $pg_port -k $work -c listen_addresses=127.0.0.1 -c max_connections=400 -c autovacuum=off $pg_tls_options" \
    start >/dev/null

start_bouncer() {  # name -> port; pgbouncer in session mode, its pid in $work/name.pid
    local port
    port=$(free_port)
    cat > "$work/$1.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pg_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
auth_type = trust
auth_file = $work/userlist.txt
pool_mode = session
max_client_conn = 400
default_pool_size = 300
logfile = $work/$1.log
pidfile = $work/$1.pid
$bouncer_tls
INI
    chmod 644 "$work/$1.ini"
    "${run_as[@]}" pgbouncer -d "$work/$1.ini" >/dev/null 2>&1
    echo "$port"
}
start_pgrev() {  # name -> port; pgrev auditing the *_audited tables, its pid in $work/name.pid
    local port
    port=$(free_port)
    printf 'listen: 127.0.0.1:%s\nupstream: 127.0.0.1:%s\naudit: {tables: [%s]}\nworkers: %s\nlog: {level: warn}\n%s' \
        "$port" "$pg_port" "accounts_audited, events_audited, orders_audited" "$pgrev_workers" \
        "$pgrev_tls" > "$work/$1.yaml"
    "$pgrev_bin" --config "$work/$1.yaml" >/dev/null 2>"$work/$1.log" &
    echo $! > "$work/$1.pid"
    echo "$port"
}
wait_pid() {  # name -> pid, once its pidfile is there
    for _ in {1..50}; do [[ -s "$work/$1.pid" ]] && break; sleep 0.1; done
    cat "$work/$1.pid"
}
echo '"postgres" ""' > "$work/userlist.txt"
chmod 644 "$work/userlist.txt"

psql_at() { "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -U postgres -d postgres -p "$@"; }
sql() { psql_at "$pg_port" -At <<<"$1"; }  # statements one by one, so VACUUM works
pgbench() { "$bindir/pgbench" -h 127.0.0.1 -U postgres "$@"; }
pgbench -i -s 1 -p "$pg_port" postgres >/dev/null 2>&1
for t in audited plain trig; do sed "s/@T@/$t/g" "$lib/schema.sql" | psql_at "$pg_port" >/dev/null; done

bouncer_port=$(start_bouncer pgbouncer)
pgrev_port=$(start_pgrev pgrev)
bouncer_pid=$(wait_pid pgbouncer)
pgrev_pid=$(wait_pid pgrev)
declare -A port=([direct]=$pg_port [bouncer]=$bouncer_port [trig]=$bouncer_port
                 [audit]=$pgrev_port [plain]=$pgrev_port)
declare -A suffix=([direct]=plain [bouncer]=plain [trig]=trig [audit]=audited [plain]=plain)
declare -A label=([direct]=direct [bouncer]=pgbouncer [trig]="pgbouncer + trigger"
                  [audit]=pgrev-audited [plain]="pgrev, twin not audited")
declare -A down=()
for _ in {1..50}; do psql_at "$pgrev_port" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
for target in bouncer audit; do
    if ! err=$(psql_at "${port[$target]}" -c 'SELECT 1' 2>&1 >/dev/null); then
        down[$target]=$(head -1 <<<"$err")
        note "${label[$target]} left out: ${down[$target]}"
    fi
done
[[ -z "${down[bouncer]:-}" ]] || down[trig]=${down[bouncer]}
[[ -z "${down[audit]:-}" ]] || down[plain]=${down[audit]}
if [[ -z "${down[audit]:-}" ]]; then
    # pgrev creates the *_audited_rev tables at start; a write of no row makes sure.
    for table in accounts events orders; do
        psql_at "$pgrev_port" -c "DELETE FROM ${table}_audited WHERE false" >/dev/null
    done
fi
declare -A cols=([accounts]="aid, bid, abalance, filler"
                 [events]="id, account, amount, kind, created_at"
                 [orders]="id, customer_id, status, total, created_at, updated_at")
declare -A key=([accounts]=aid [events]=id [orders]=id)
for table in accounts events orders; do
    sed -e "s/@T@/$table/g" -e "s/@COLS@/${cols[$table]}/" -e "s/@KEY@/${key[$table]}/g" \
        "$lib/trigger.sql" | psql_at "$pg_port" >/dev/null
done

# pgbench scripts per workload, table and mode (the comment of orm.sql depends on the mode).
comment_fixed="/*controller='orders',action='update',traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'*/"
comment_varying="/*controller='orders',action='update',traceparent='00-:trace1:trace2-:spanN-01'*/"
mkdir "$work/scripts"
for w in update insert delete orm; do
    for t in audited plain trig; do
        for mode in simple extended prepared; do
            c=$comment_fixed
            [[ "$mode" != simple ]] || c=$comment_varying
            sed -e "s/@T@/$t/g" -e "s|@C\([1-3]\)@|${c/spanN/span\\1}|g" "$lib/$w.sql" \
                > "$work/scripts/$w-$t-$mode.sql"
        done
    done
done
# orm-psycopg: orm.sql's transaction through psycopg 3 (bench/lib/orm_psycopg.py).
declare -A stmts=([update]=1 [insert]=1 [delete]=4 [orm]=5 [orm-psycopg]=5 [select]=1)  # per transaction
declare -A on_table=([update]=1 [insert]=1 [delete]=2 [orm]=3 [orm-psycopg]=3)  # statements naming the table
declare -A revs=([update]=1 [insert]=1 [delete]=2 [orm]=2 [orm-psycopg]=2)  # revisions per transaction
declare -A family=([update]=accounts [insert]=events [delete]=accounts [orm]=orders [orm-psycopg]=orders)

reset() {  # workload: the state every run of it starts from
    local f=${family[$1]:-}
    case "$1" in
        orm-psycopg) reset orm; return ;;
        insert) sql "TRUNCATE events_audited, events_plain, events_trig, events_audited_rev, events_trig_rev" ;;
        orm) sql "DELETE FROM orders_audited WHERE id > 100000;
                  DELETE FROM orders_plain WHERE id > 100000;
                  DELETE FROM orders_trig WHERE id > 100000" ;;
    esac
    if [[ -n "$f" ]]; then
        sql "TRUNCATE ${f}_audited_rev, ${f}_trig_rev;
             VACUUM ${f}_audited; VACUUM ${f}_plain; VACUUM ${f}_trig"
    fi
    sql CHECKPOINT
}
cpu_ticks() {  # pid -> utime + stime of the whole process (all threads), in clock ticks
    local stat fields
    [[ -r "/proc/$1/stat" ]] || { echo 0; return; }  # gone: its pgbench runs fail and say so
    stat=$(<"/proc/$1/stat")
    read -ra fields <<<"${stat##*) }"
    echo $((fields[11] + fields[12]))
}
hz=$(getconf CLK_TCK)
declare -A samples=()  # "figure,cell" -> space-separated values of the rounds
add() { samples[$1]+=" $2"; }
problems=()
checked=0

measure() {  # target workload mode clients: one pgbench run, its TPS and proxy CPU
    local target=$1 w=$2 mode=$3 clients=$4 cell="$2,$3,$4,$1"
    [[ -z "${down[$target]:-}" ]] || return 0
    reset "$w"
    local args=(-f "$work/scripts/$w-${suffix[$target]}-$mode.sql" -D "clients=$clients")
    [[ "$w" != select ]] || args=(-S)
    note "round $round/$rounds: $w -M $mode -c $clients ${label[$target]}"
    local p0 b0 p1 b1 out txns tps
    p0=$(cpu_ticks "$pgrev_pid"); b0=$(cpu_ticks "$bouncer_pid")
    local run=(pgbench -n -p "${port[$target]}" -M "$mode" -c "$clients" -j 2 -T "$secs" "${args[@]}" postgres)
    [[ "$w" != orm-psycopg ]] || run=(/usr/bin/python3 "$lib/orm_psycopg.py" --port "${port[$target]}" \
        --table "orders_${suffix[$target]}" --clients "$clients" --seconds "$secs")
    if ! out=$("${run[@]}" 2>"$work/pgbench.err"); then  # an aborted run has no figure
        problems+=("$cell: pgbench failed: $(grep -m1 -i error "$work/pgbench.err" || tail -1 "$work/pgbench.err")")
        return 0
    fi
    p1=$(cpu_ticks "$pgrev_pid"); b1=$(cpu_ticks "$bouncer_pid")
    txns=$(awk -F': *' '/^number of transactions actually processed/ {sub(/\/.*/, "", $2); print $2}' <<<"$out")
    tps=$(awk '/^tps = / {print $3; exit}' <<<"$out")
    add "tps,$cell" "$tps"
    local n=$((txns * ${stmts[$w]}))
    case "$target" in
        audit | plain) add "cpu,$cell" "$(awk -v t=$((p1 - p0)) -v n=$n -v hz="$hz" 'BEGIN {print t * 1e6 / hz / n}')" ;;
        bouncer | trig) add "cpu,$cell" "$(awk -v t=$((b1 - b0)) -v n=$n -v hz="$hz" 'BEGIN {print t * 1e6 / hz / n}')" ;;
    esac
    [[ "$w" != select ]] || return 0
    # The revisions: pgrev's for audited rows, the trigger's for its table, none for a twin.
    local f=${family[$w]} want_audited=0 want_trig=0 got
    [[ "$target" != audit ]] || want_audited=$((txns * ${revs[$w]}))
    [[ "$target" != trig ]] || want_trig=$((txns * ${revs[$w]}))
    got=$(sql "SELECT (SELECT count(*) FROM ${f}_audited_rev) || ' ' || (SELECT count(*) FROM ${f}_trig_rev)
                      || ' ' || (to_regclass('${f}_plain_rev') IS NULL)")
    checked=$((checked + 1))
    [[ "$got" == "$want_audited $want_trig true" ]] ||
        problems+=("$cell: revisions (pgrev's, the trigger's, twin has no _rev) are '$got', expected '$want_audited $want_trig true'")
}

big_update() {  # target: time in ms of one UPDATE of 10,000 rows
    local target=$1 out
    [[ -z "${down[$target]:-}" ]] || return 0
    reset update
    note "round $round/$rounds: UPDATE of 10,000 rows, ${label[$target]}"
    out=$(psql_at "${port[$target]}" -c '\timing on' \
        -c "UPDATE accounts_${suffix[$target]} SET abalance = abalance + 1 WHERE aid <= 10000")
    add "big,$target" "$(awk '/^Time:/ {print $2}' <<<"$out")"
    local got
    got=$(sql "SELECT count(*) FROM accounts_${suffix[$target]}_rev")
    checked=$((checked + 1))
    [[ "$got" == 10000 ]] || problems+=("UPDATE of 10,000 rows, ${label[$target]}: $got revisions")
}

idle_rss() {  # per round: KiB per idle session of a freshly started pgrev and pgbouncer
    local name p pid out
    for name in idle-pgrev idle-pgbouncer; do
        note "round $round/$rounds: 250 idle sessions, $name"
        if [[ "$name" == idle-pgrev ]]; then p=$(start_pgrev "$name"); else p=$(start_bouncer "$name"); fi
        pid=$(wait_pid "$name")
        for _ in {1..50}; do psql_at "$p" -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
        if out=$(python3 "$lib/idle_rss.py" --pid "$pid" --port "$p" --sessions 250 \
            "${idle_tls[@]}" 2>&1); then
            add "rss,$name" "$(awk '{print ($2 - $1) / 250}' <<<"$out")"
        else
            problems+=("$name: $(tail -1 <<<"$out")")
        fi
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        rm -f "$work/$name.pid"
    done
}

idle_tls=()
[[ "$tls" == 0 ]] || idle_tls=(--tls)
sql "VACUUM ANALYZE" >/dev/null
for ((round = 1; round <= rounds; round++)); do
    for w in update insert delete orm; do
        for mode in simple extended prepared; do
            for clients in 8 32; do
                measure audit "$w" "$mode" "$clients"
                measure trig "$w" "$mode" "$clients"
                [[ "$clients" == 8 ]] || continue
                measure plain "$w" "$mode" "$clients"
                [[ "$w" == update ]] || continue
                measure bouncer "$w" "$mode" "$clients"
                measure direct "$w" "$mode" "$clients"
            done
        done
    done
    if /usr/bin/python3 -c 'import psycopg' 2>/dev/null; then
        for target in audit trig plain; do measure "$target" orm-psycopg extended 8; done
    elif ((round == 1)); then
        problems+=("orm-psycopg not measured: /usr/bin/python3 has no psycopg (scripts/install-deps.sh installs it)")
    fi
    for mode in simple extended prepared; do
        for target in direct bouncer plain; do measure "$target" select "$mode" 8; done
    done
    for _ in 1 2; do big_update audit; big_update trig; done
    idle_rss
done
elapsed=$(($(date +%s) - started))

# shellcheck source=bench/lib/report.sh
source "$lib/report.sh"
{
    echo "Command: \`bash bench/run.sh${given:+ $given}\` ($rounds round(s) of ${secs} s runs," \
        "$((elapsed / 60)) min $((elapsed % 60)) s in all${PGSSLMODE:+, TLS on every leg})"
    echo
    echo "Machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)," \
        "$(free -g | awk '/^Mem:/ {print $2}') GiB; $("$bindir/postgres" --version);" \
        "$(pgbouncer --version | head -1); $pgrev_version, workers: $pgrev_workers;" \
        "load average $load_start at the" \
        "start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo
    report
} > "$work/report.md"
# mark() ran in command substitutions: count its marks in the tables.
echo "Targets: $(grep -o ' PASS|' "$work/report.md" | wc -l) PASS, $(grep -o ' FAIL|' "$work/report.md" | wc -l) FAIL." \
    >> "$work/report.md"
cat "$work/report.md"
if [[ -n "$markdown" ]]; then
    # A file with the two marker lines keeps what is outside them (bench/RESULTS.md's text).
    begin='<!-- bench/run.sh --markdown: begin -->' end='<!-- bench/run.sh --markdown: end -->'
    if [[ -f "$markdown" ]] && grep -qxF "$begin" "$markdown" && grep -qxF "$end" "$markdown"; then
        awk -v begin="$begin" -v end="$end" -v block="$work/report.md" '
            $0 == begin { print; while ((getline line < block) > 0) print line; skip = 1; next }
            $0 == end { skip = 0 }
            !skip' "$markdown" > "$work/markdown.new"
    else
        { echo "$begin"; cat "$work/report.md"; echo "$end"; } > "$work/markdown.new"
    fi
    cat "$work/markdown.new" > "$markdown"
    note "wrote $markdown"
fi
