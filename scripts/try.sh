#!/usr/bin/env bash
# README command #1: installs the dependencies, builds pgrev, starts a PostgreSQL 15 of its
# own with a database "app" and a table "reservation", and runs pgrev in front of it, in the
# foreground.
#
#   bash scripts/try.sh          set up (or reuse) the demo and run pgrev; Ctrl-C stops pgrev
#   bash scripts/try.sh stop     stop the demo's PostgreSQL
#
# Environment: PGREV_DEMO_PGPORT  PostgreSQL's port (default 5433)
#              PGREV_DEMO_PORT    pgrev's port (default 6432)
#
# Everything lives in .demo/ of the checkout: the data directory .demo/pgdata, its log
# .demo/postgres.log and pgrev's config .demo/pgrev.yaml. Run as root, PostgreSQL runs as
# the system user pgrev-demo (created when missing); when that user cannot reach the
# checkout (say, under /root), the data directory goes to /var/lib/pgrev-demo instead.
# Run as another user, PostgreSQL runs as that user.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root_dir=$(pwd -P)
demo_dir=$root_dir/.demo
pg_bin=/usr/lib/postgresql/15/bin
pg_port=${PGREV_DEMO_PGPORT:-5433}
pgrev_port=${PGREV_DEMO_PORT:-6432}
demo_user=pgrev-demo
fallback_base=/var/lib/pgrev-demo

say() { printf 'try.sh: %s\n' "$*"; }
die() { printf 'try.sh: %s\n' "$*" >&2; exit 1; }

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Runs a PostgreSQL program as the user that owns the demo cluster. From / so that a
# checkout the demo user cannot enter is not its working directory.
as_pg() {
    if is_root; then
        (cd / && runuser -u "$demo_user" -- "$@")
    else
        "$@"
    fi
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True when the cluster in $1 has a running postmaster.
pg_running() {
    [[ -f "$1/PG_VERSION" ]] && as_pg "$pg_bin/pg_ctl" -D "$1" status >/dev/null 2>&1
}

check_port_number() {
    if [[ ! "$2" =~ ^[0-9]+$ ]] || ((10#$2 < 1 || 10#$2 > 65535)); then
        die "$1 must be a port number, not '$2'"
    fi
}

stop_demo() {
    local stopped=0 data
    local candidates=("$demo_dir/pgdata")
    if is_root; then
        candidates+=("$fallback_base/pgdata")
        id -u "$demo_user" >/dev/null 2>&1 || candidates=()
    fi
    for data in "${candidates[@]}"; do
        if pg_running "$data"; then
            as_pg "$pg_bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
            say "stopped the PostgreSQL of $data"
            stopped=1
        fi
    done
    [[ "$stopped" == 1 ]] || say "no demo PostgreSQL is running"
}

# Prints the comment block at the top of this file.
usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

case "${1:-}" in
    "") ;;
    stop) stop_demo; exit 0 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (try --help)" ;;
esac

check_port_number PGREV_DEMO_PGPORT "$pg_port"
check_port_number PGREV_DEMO_PORT "$pgrev_port"

# 1. Dependencies and build. install-deps.sh does nothing when all is installed, and
#    tells a non-root user to use sudo when something is missing.
bash scripts/install-deps.sh
bash scripts/build.sh

# 2. Where the cluster lives and who runs it.
mkdir -p "$demo_dir"
pg_base=$demo_dir
if is_root; then
    if ! id -u "$demo_user" >/dev/null 2>&1; then
        useradd --system --user-group --home-dir "$fallback_base" --no-create-home \
            --shell /usr/sbin/nologin "$demo_user"
        say "created the system user $demo_user to run PostgreSQL (it refuses to run as root)"
    fi
    if runuser -u "$demo_user" -- test -x "$root_dir"; then
        chmod 755 "$demo_dir"
    else
        pg_base=$fallback_base
        say "user $demo_user cannot enter $root_dir, so the data directory goes to $pg_base instead"
        mkdir -p "$pg_base"
        chown "$demo_user:" "$pg_base"
        chmod 700 "$pg_base"
    fi
    pg_owner=$demo_user
else
    pg_owner=$(id -un)
fi
pg_data=$pg_base/pgdata
pg_log=$pg_base/postgres.log

if [[ -e "$pg_data" ]]; then
    owner=$(stat -c %U "$pg_data")
    [[ "$owner" == "$pg_owner" ]] ||
        die "$pg_data belongs to $owner, not $pg_owner: run try.sh as that user, or remove it"
fi

# 3. The cluster: reuse an existing one, else initdb.
if [[ ! -f "$pg_data/PG_VERSION" ]]; then
    if [[ -d "$pg_data" && -n "$(ls -A "$pg_data")" ]]; then
        die "$pg_data exists but is not a PostgreSQL data directory; remove it and run again"
    fi
    mkdir -p "$pg_data"
    chmod 700 "$pg_data"
    if is_root; then
        chown "$demo_user:" "$pg_data"
    fi
    say "creating a PostgreSQL 15 cluster in $pg_data"
    # trust on 127.0.0.1 only: a demo that anyone on this machine may use, no password.
    as_pg "$pg_bin/initdb" -D "$pg_data" -U postgres --auth=trust --no-locale -E UTF8 \
        >"$demo_dir/initdb.log" 2>&1 ||
        { cat "$demo_dir/initdb.log" >&2; die "initdb failed"; }
    as_pg tee -a "$pg_data/postgresql.conf" >/dev/null <<EOF

# Added by pgrev's scripts/try.sh: TCP on the loopback only, no Unix socket.
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
port = $pg_port
EOF
fi

if pg_running "$pg_data"; then
    running_port=$(sed -n 4p "$pg_data/postmaster.pid")
    if [[ "$running_port" != "$pg_port" ]]; then
        say "PostgreSQL of $pg_data is already running on port $running_port; using that port"
    else
        say "PostgreSQL of $pg_data is already running; reusing it"
    fi
    pg_port=$running_port
else
    if port_in_use "$pg_port"; then
        die "port $pg_port is taken by another program; choose another with PGREV_DEMO_PGPORT=NNNN"
    fi
    if is_root && [[ ! -e "$pg_log" ]]; then
        install -o "$demo_user" -g "$demo_user" -m 640 /dev/null "$pg_log"
    fi
    say "starting PostgreSQL on 127.0.0.1:$pg_port (log: $pg_log)"
    as_pg "$pg_bin/pg_ctl" -D "$pg_data" -l "$pg_log" -o "-p $pg_port" -w -t 60 start >/dev/null ||
        { tail -n 20 "$pg_log" >&2 || true; die "PostgreSQL did not start; its log is $pg_log"; }
fi

# 4. The database "app" and the table of sqlalchemy-audit's README.
psql_demo() {
    local db=$1
    shift
    "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 "host=127.0.0.1 port=$pg_port user=postgres dbname=$db" "$@"
}
app_exists=$(psql_demo postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'app'")
if [[ -z "$app_exists" ]]; then
    psql_demo postgres -c 'CREATE DATABASE app'
    say "created database app"
fi
psql_demo app <<'EOF'
SET client_min_messages = warning;
CREATE TABLE IF NOT EXISTS reservation (
    id            serial PRIMARY KEY,
    name          text,
    date          date,
    time          time,
    party         int,
    last_modified timestamptz DEFAULT now()
);
EOF

# 5. pgrev's config: the example, pointed at this cluster, without the admin password
#    (the demo cluster trusts 127.0.0.1). Written anew on every run.
example=examples/pgrev.yaml
[[ -f "$example" ]] || die "$example is missing"
grep -q '^upstream:' "$example" || die "$example has no top-level 'upstream:' line to rewrite"
grep -q '^listen:' "$example" || die "$example has no top-level 'listen:' line to rewrite"
if port_in_use "$pgrev_port"; then
    die "port $pgrev_port is taken (another pgrev? a pgbouncer?); stop it or choose another with PGREV_DEMO_PORT=NNNN"
fi
sed -E \
    -e "s/^upstream:.*/upstream: 127.0.0.1:$pg_port/" \
    -e "s/^listen:.*/listen: 127.0.0.1:$pgrev_port/" \
    -e '/^[[:space:]]*password_env:/d' \
    "$example" >"$demo_dir/pgrev.yaml.tmp"
mv "$demo_dir/pgrev.yaml.tmp" "$demo_dir/pgrev.yaml"

cat <<EOF

pgrev demo
  PostgreSQL 15  127.0.0.1:$pg_port, data $pg_data, run by $pg_owner, log $pg_log
  pgrev          127.0.0.1:$pgrev_port, config .demo/pgrev.yaml, logging below

Connect through pgrev from another terminal:
  psql "host=127.0.0.1 port=$pgrev_port user=postgres dbname=app"

and try sqlalchemy-audit's timeline:
  INSERT INTO reservation (name, date, time, party) VALUES ('Steve', '2015-04-15', '19:00', 6);
  UPDATE reservation SET party = 4 WHERE name = 'Steve';
  DELETE FROM reservation WHERE name = 'Steve';
  SELECT * FROM reservation_rev;   -- the history pgrev wrote: three revision rows

Stop: Ctrl-C here stops pgrev. PostgreSQL keeps running, and the next try.sh reuses it;
stop it with: bash scripts/try.sh stop

EOF
exec build/pgrev --config .demo/pgrev.yaml
