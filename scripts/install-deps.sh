#!/usr/bin/env bash
# Installs every Debian 12 package pgrev needs to build and to run its tests.
#
#   sudo bash scripts/install-deps.sh           build + test dependencies
#   sudo bash scripts/install-deps.sh --bench   also pgbouncer, for the benchmarks
#
# Safe to run again: when every package is already installed it says so and does nothing
# (no root needed then, no network either). Otherwise it must run as root.
set -euo pipefail

# Prints the comment block at the top of this file.
usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

bench=${PGREV_WITH_BENCH:-0}
args=("$@")
for arg in "$@"; do
    case "$arg" in
        --bench) bench=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install-deps.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

packages=(
    # build
    cmake g++ make pkg-config
    # libraries (CMakeLists.txt finds them; README, Layout says what each is for)
    libboost-dev libpq-dev libspdlog-dev nlohmann-json3-dev doctest-dev
    libpg-query-dev libyaml-cpp-dev libssl-dev
    # bench/micro (Google Benchmark): built by default so that CI keeps it compiling
    libbenchmark-dev
    # scripts/check-style.sh (run by scripts/test.sh): formatting and lint
    clang-format clang-tidy
    # scripts/fuzz.sh: clang builds the libFuzzer targets; libFuzzer and clang's sanitizer
    # runtimes (libclang_rt.fuzzer, .asan, .ubsan) are in libclang-rt-14-dev, which clang
    # only recommends. gcc's sanitizer runtimes (scripts/sanitize.sh) come with g++.
    clang libclang-rt-14-dev
    # the TLS tests and bench/run.sh --tls make their certificates with the openssl tool
    openssl
    # scripts/pg-roots.sh: Debian roots with PostgreSQL 17 and 18 for the tests (ctest pg_roots)
    debootstrap
    # the integration tests and scripts/try.sh start their own PostgreSQL 15
    postgresql-15 postgresql-client-15
    # the driver tests (tests/drivers): real client libraries through pgrev. They run
    # Debian's /usr/bin/python3, whatever python3 comes first in PATH.
    python3 python3-psycopg2 python3-psycopg python3-asyncpg python3-sqlalchemy
    libpostgresql-jdbc-java default-jdk-headless
)
# node-postgres comes from the npm registry at test time (tests/drivers/node); Node.js and
# npm come from Debian unless both are already installed another way (NodeSource's nodejs
# package bundles npm and conflicts with Debian's npm, so asking apt for it would fail).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages+=(nodejs npm)
fi
if [[ "$bench" == 1 ]]; then
    # Not installed by default: on a host with systemd, Debian starts a pgbouncer service
    # listening on 127.0.0.1:6432, the port pgrev's demo uses. The benchmarks run the
    # binary themselves and need no service.
    packages+=(pgbouncer)
fi

missing=()
for p in "${packages[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps.sh: all ${#packages[@]} packages are installed."
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    echo "install-deps.sh: these packages are missing: ${missing[*]}" >&2
    echo "install-deps.sh: installing them needs root; run: sudo bash scripts/install-deps.sh${args[*]:+ ${args[*]}}" >&2
    exit 1
fi

# Debian's postgresql-15 package would otherwise create a system cluster "15/main" and
# start it on port 5432. pgrev's tests and demo start their own servers and need none.
createcluster_dir=/etc/postgresql-common/createcluster.d
createcluster_conf=$createcluster_dir/pgrev.conf
if [[ ! -e "$createcluster_conf" ]]; then
    mkdir -p "$createcluster_dir"
    cat >"$createcluster_conf" <<'EOF'
# Written by pgrev's scripts/install-deps.sh: no system cluster when postgresql-15 is
# installed; pgrev's tests and demo start their own servers. Delete this file to get
# Debian's default behaviour back.
create_main_cluster = false
EOF
    echo "install-deps.sh: wrote $createcluster_conf (create_main_cluster = false)"
fi

# The JDK's postinst links its manual pages into /usr/share/man/man1 and fails when that
# directory is missing (minimal images leave it out).
mkdir -p /usr/share/man/man1

echo "install-deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
echo "install-deps.sh: done."
