#!/usr/bin/env bash
# Prints, for each test that failed in a saved `ctest --output-on-failure` log, its status
# line, the lines of its output that name a failure (doctest's ERROR/FATAL lines, Python
# tracebacks and assertions, sanitizer reports) and the last lines of that output.
#
#   bash scripts/ctest-summary.sh LOG
#
# scripts/test.sh calls it last, so the cause of a red run stands at the end of CI's
# output (which often keeps only its tail) rather than thousands of fuzzer lines earlier.
set -euo pipefail

log=$1
[[ -f "$log" ]] || { echo "ctest-summary.sh: no log at $log" >&2; exit 0; }

awk -v tail_lines=25 -v match_lines=30 '
function flush(    i, from, shown) {
    if (name == "") return
    print "---- " name
    shown = 0
    for (i = 1; i <= n && shown < match_lines; i++)
        if (buf[i] ~ /(TEST CASE|ERROR|FATAL|FAILED|Traceback|Error:|AssertionError|runtime error|AddressSanitizer|LeakSanitizer|Assertion)/) {
            print "  | " buf[i]; shown++
        }
    print "  ... last lines:"
    from = n - tail_lines + 1; if (from < 1) from = 1
    for (i = from; i <= n; i++) print "  | " buf[i]
    name = ""; n = 0
}
/Test +#[0-9]+: .*\*\*\*(Failed|Timeout|Exception)|Test +#[0-9]+: .*(Not Run|\*\*\*Not Run)/ {
    flush(); name = $0; next
}
/^ *Start +[0-9]+: / || /^[0-9]+% tests passed/ { flush(); next }
name != "" { buf[++n] = $0 }
END { flush() }
' "$log"
