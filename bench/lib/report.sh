# The tables of bench/run.sh (sourced by it): medians of the samples it collected, as
# markdown tables, each figure next to its target from issue 11.
# shellcheck shell=bash disable=SC2154  # samples, down, label, ... are run.sh's

med() {  # figure cell -> median of its samples, empty when none
    local values=${samples[$1,$2]:-}
    [[ -n "$values" ]] || return 0
    tr ' ' '\n' <<<"$values" | grep . | sort -g |
        awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
num() { if [[ -n "$1" ]]; then printf "%.${2:-0}f" "$1"; else printf -- -; fi; }  # value [decimals]
ratio() {  # a b -> a / b with two decimals, "-" when one is missing
    if [[ -n "$1" && -n "$2" ]]; then awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; else printf -- -; fi
}
mark() {  # value op bound -> "value PASS|FAIL" (op is <= or >=), "-" without a value
    if [[ -z "$1" || "$1" == - ]]; then printf -- -; return; fi
    if awk -v v="$1" -v b="$3" -v op="$2" 'BEGIN {exit !(op == "<=" ? v <= b : v >= b)}'; then
        printf '%s PASS' "$1"
    else
        printf '%s FAIL' "$1"
    fi
}
row() { local IFS='|'; echo "|$*|"; }

report() {
    local w mode c a t
    echo "### Audited writes: TPS, pgrev-audited / (pgbouncer + trigger), target >= 1.0"
    echo
    row workload mode "-c 8 pgrev" "-c 8 trigger" "-c 8 ratio" "-c 32 pgrev" "-c 32 trigger" "-c 32 ratio"
    row --- --- ---: ---: ---: ---: ---: ---:
    for w in update insert delete orm; do
        for mode in simple extended prepared; do
            local cells=()
            for c in 8 32; do
                a=$(med tps "$w,$mode,$c,audit"); t=$(med tps "$w,$mode,$c,trig")
                cells+=("$(num "$a")" "$(num "$t")" "$(mark "$(ratio "$a" "$t")" ">=" 1.0)")
            done
            row "$w" "$mode" "${cells[@]}"
        done
    done
    a=$(med tps "orm-psycopg,extended,8,audit"); t=$(med tps "orm-psycopg,extended,8,trig")
    row "orm, psycopg 3" "extended, comment varying" "$(num "$a")" "$(num "$t")" "$(mark "$(ratio "$a" "$t")" ">=" 1.0)" - - -
    echo
    echo "UPDATE at -c 8 against PostgreSQL directly and pgbouncer alone (both on the twin table):"
    echo
    row mode direct pgbouncer "pgrev, twin" "pgbouncer + trigger" pgrev-audited \
        "pgrev-audited / direct" "pgrev-audited / pgbouncer" "pgrev twin / pgbouncer" "trigger / pgbouncer"
    row --- ---: ---: ---: ---: ---: ---: ---: ---: ---:
    for mode in simple extended prepared; do
        local d b p
        d=$(med tps "update,$mode,8,direct"); b=$(med tps "update,$mode,8,bouncer")
        p=$(med tps "update,$mode,8,plain"); t=$(med tps "update,$mode,8,trig")
        a=$(med tps "update,$mode,8,audit")
        row "$mode" "$(num "$d")" "$(num "$b")" "$(num "$p")" "$(num "$t")" "$(num "$a")" \
            "$(ratio "$a" "$d")" "$(ratio "$a" "$b")" "$(ratio "$p" "$b")" "$(ratio "$t" "$b")"
    done
    echo
    echo "### CPU per statement of each proxy process (µs; pgrev in the audited run, pgbouncer in the trigger run)"
    echo
    row workload mode "-c 8 pgrev" "-c 8 pgbouncer" "-c 32 pgrev" "-c 32 pgbouncer"
    row --- --- ---: ---: ---: ---:
    for w in update insert delete orm; do
        for mode in simple extended prepared; do
            row "$w" "$mode" "$(num "$(med cpu "$w,$mode,8,audit")" 1)" "$(num "$(med cpu "$w,$mode,8,trig")" 1)" \
                "$(num "$(med cpu "$w,$mode,32,audit")" 1)" "$(num "$(med cpu "$w,$mode,32,trig")" 1)"
        done
    done
    row "orm, psycopg 3" "extended, comment varying" "$(num "$(med cpu "orm-psycopg,extended,8,audit")" 1)" \
        "$(num "$(med cpu "orm-psycopg,extended,8,trig")" 1)" - -
    echo
    echo "### Audit CPU at -c 8: pgrev's µs per statement on the table, audited minus twin, target <= 10"
    echo
    echo "(per transaction difference / statements naming the table: update 1, insert 1, delete 2, orm 3;
orm-psycopg is orm.sql's transaction through psycopg 3, unnamed Parse per statement, comment varying)"
    echo
    row workload mode "pgrev audited µs/stmt" "pgrev twin µs/stmt" "audit µs per statement on the table"
    row --- --- ---: ---: ---:
    for w in update insert delete orm orm-psycopg; do
        for mode in simple extended prepared; do
            [[ "$w" != orm-psycopg || "$mode" == extended ]] || continue
            local ca cp diff=
            ca=$(med cpu "$w,$mode,8,audit"); cp=$(med cpu "$w,$mode,8,plain")
            [[ -z "$ca" || -z "$cp" ]] ||
                diff=$(awk -v a="$ca" -v p="$cp" -v s="${stmts[$w]}" -v n="${on_table[$w]}" \
                    'BEGIN {printf "%.1f", (a - p) * s / n}')
            row "$w" "$mode" "$(num "$ca" 1)" "$(num "$cp" 1)" "$(mark "$diff" "<=" 10)"
        done
    done
    echo
    echo "### Pass-through, pgbench -S -c 8: TPS and CPU per query, target pgrev CPU <= pgbouncer's"
    echo
    row mode direct pgbouncer pgrev "pgrev / pgbouncer" "pgbouncer µs/query" "pgrev µs/query"
    row --- ---: ---: ---: ---: ---: ---:
    for mode in simple extended prepared; do
        local b p cb cp
        b=$(med tps "select,$mode,8,bouncer"); p=$(med tps "select,$mode,8,plain")
        cb=$(med cpu "select,$mode,8,bouncer"); cp=$(med cpu "select,$mode,8,plain")
        local cpu_mark=-
        [[ -z "$cb" || -z "$cp" ]] || cpu_mark=$(mark "$(num "$cp" 1)" "<=" "$(num "$cb" 1)")
        row "$mode" "$(num "$(med tps "select,$mode,8,direct")")" "$(num "$b")" "$(num "$p")" \
            "$(ratio "$p" "$b")" "$(num "$cb" 1)" "$cpu_mark"
    done
    echo
    echo "### One UPDATE of 10,000 audited rows (ms, median of $((2 * rounds))), target pgrev / trigger <= 0.7"
    echo
    a=$(med big audit); t=$(med big trig)
    row "pgrev-audited" "pgbouncer + trigger" "pgrev / trigger"
    row ---: ---: ---:
    row "$(num "$a" 1)" "$(num "$t" 1)" "$(mark "$(ratio "$a" "$t")" "<=" 0.7)"
    echo
    echo "### RSS per idle client session (KiB, 250 sessions), target pgrev <= 8${PGSSLMODE:+ (with TLS: the target is for sessions without)}"
    echo
    row pgrev pgbouncer
    row ---: ---:
    row "$(mark "$(num "$(med rss idle-pgrev)" 1)" "<=" 8)" "$(num "$(med rss idle-pgbouncer)" 1)"
    echo
    echo "Checks: $checked runs checked (revisions = rows changed through pgrev and through the" \
        "trigger, no _rev table for the twins), ${#problems[@]} problems."
    local problem target
    for problem in "${problems[@]}"; do echo "- $problem"; done
    for target in "${!down[@]}"; do echo "- ${label[$target]} not measured: ${down[$target]}"; done
}
