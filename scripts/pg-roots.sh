#!/usr/bin/env bash
# Builds the Debian roots that hold the PostgreSQL versions Debian 12 does not ship, so that
# the tests can run pgrev in front of them (and run their psql):
#
#   sudo bash scripts/pg-roots.sh            both roots
#   sudo bash scripts/pg-roots.sh pg18       one of them
#
#   pg17  Debian 13 (trixie):  postgresql-17, postgresql-client-17
#   pg18  Debian unstable:     postgresql-18, postgresql-client-18 (psql and libpq 18)
#
# Each root is a debootstrap --variant=minbase from Debian's registry (deb.debian.org, or
# PGREV_DEBIAN_MIRROR) plus those packages, in $PGREV_ROOTS_DIR (default
# /var/cache/pgrev/roots), outside the clone so that every clone and every CI run reuses it.
# A root that is complete is reused as it is (no network); one that is not is built again.
# Prints nothing but progress; exits non-zero, saying why, when a root cannot be built.
# The test harness runs the programs of a root with chroot (tests/integration/child_process.h).
set -euo pipefail

roots_dir=${PGREV_ROOTS_DIR:-/var/cache/pgrev/roots}
mirror=${PGREV_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# name -> "suite package..."
declare -A spec=(
    [pg17]="trixie postgresql-17 postgresql-client-17"
    [pg18]="sid postgresql-18 postgresql-client-18"
)

names=("$@")
[[ ${#names[@]} -eq 0 ]] && names=(pg17 pg18)
for name in "${names[@]}"; do
    if [[ -z "${spec[$name]:-}" ]]; then
        echo "pg-roots.sh: unknown root '$name' (known: ${!spec[*]})" >&2
        exit 2
    fi
done

# What a complete root records; a root with another record (older spec) is rebuilt.
record_of() { echo "pgrev root v1: ${spec[$1]}"; }

complete() { [[ "$(cat "$roots_dir/$1/.pgrev-root" 2>/dev/null || true)" == "$(record_of "$1")" ]]; }

todo=()
for name in "${names[@]}"; do
    if complete "$name"; then
        echo "pg-roots.sh: $roots_dir/$name is complete, reused"
    else
        todo+=("$name")
    fi
done
[[ ${#todo[@]} -eq 0 ]] && exit 0

if [[ "$(id -u)" -ne 0 ]]; then
    echo "pg-roots.sh: building ${todo[*]} in $roots_dir needs root (debootstrap, chroot)" >&2
    exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "pg-roots.sh: debootstrap is missing; run: sudo bash scripts/install-deps.sh" >&2
    exit 1
fi
mkdir -p "$roots_dir"

# Builds one root in <name>.partial and renames it when everything is installed, so that an
# interrupted build is never taken for a complete one.
build() {
    local name=$1 suite packages partial
    read -r suite packages <<<"${spec[$name]}"
    partial="$roots_dir/$name.partial"
    rm -rf "$partial"
    echo "pg-roots.sh: $name: debootstrap $suite from $mirror"
    if ! debootstrap --variant=minbase --components=main "$suite" "$partial" "$mirror"; then
        echo "pg-roots.sh: $name: debootstrap of Debian '$suite' from $mirror failed" \
            "(is the registry reachable? see the messages above)" >&2
        return 1
    fi
    # No service may start inside the root, and no cluster is created: the tests make their own.
    printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
    chmod 755 "$partial/usr/sbin/policy-rc.d"
    mkdir -p "$partial/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" >"$partial/etc/postgresql-common/createcluster.d/pgrev.conf"
    cp /etc/resolv.conf /etc/hosts "$partial/etc/"
    echo "pg-roots.sh: $name: installing $packages"
    # Maintainer scripts want /proc: a private one, in a mount namespace that ends with apt, so
    # nothing stays mounted. The registry's Release files are signed; their Valid-Until is not
    # checked, so a machine whose clock runs ahead of the mirror can still build the roots.
    if ! unshare --mount --pid --fork --mount-proc="$partial/proc" \
        chroot "$partial" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
        sh -c "apt-get update -q -o Acquire::Check-Valid-Until=false &&
               apt-get install -y -q --no-install-recommends $packages &&
               apt-get clean && rm -rf /var/lib/apt/lists/*"; then
        echo "pg-roots.sh: $name: installing $packages in the $suite root failed" >&2
        return 1
    fi
    record_of "$name" >"$partial/.pgrev-root"
    rm -rf "${roots_dir:?}/$name"
    mv "$partial" "$roots_dir/$name"
    echo "pg-roots.sh: $name: ready in $roots_dir/$name"
}

# One build at a time per cache directory, even from two clones or two ctest runs.
exec 9>"$roots_dir/.lock"
flock 9
status=0
pids=()
for name in "${todo[@]}"; do
    if complete "$name"; then continue; fi  # built by another run while we waited
    build "$name" >"$roots_dir/$name.log" 2>&1 &
    pids+=("$!:$name")
done
for entry in "${pids[@]}"; do
    if ! wait "${entry%%:*}"; then
        name=${entry#*:}
        echo "pg-roots.sh: building the $name root failed; its log ($roots_dir/$name.log) ends:" >&2
        tail -n 30 "$roots_dir/$name.log" >&2
        status=1
    fi
done
for name in "${todo[@]}"; do
    complete "$name" && echo "pg-roots.sh: $roots_dir/$name is ready"
done
exit "$status"
