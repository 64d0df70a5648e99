#!/usr/bin/env bash
# Times `polyedge backtest` of several polyedge binaries in turn, N rounds, and prints the minimum, median
# and maximum wall time of each: a before/after comparison on a shared machine, where running the binaries
# alternately spreads the machine's own load over all of them. Not part of the test command.
#
#   bench/alternate.sh N BINARY...
#
# Environment: RECORDING (default target/anchors/cronos-rec, which bench/anchors/run.sh imports) and
# CONFIG (default: a config running complete_set alone without random twins, as bench/anchors/run.sh).
# Each binary's report goes to $TMPDIR/alternate-<n>/, so the summaries can be compared with cmp.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 2 ] || { echo "usage: bench/alternate.sh N BINARY..." >&2; exit 2; }
N=$1; shift
REC=${RECORDING:-$ROOT/target/anchors/cronos-rec}
[ -f "$REC/recording.json" ] || { echo "no recording at $REC (run bench/anchors/run.sh once, or set RECORDING)" >&2; exit 2; }
WORK=$(mktemp -d)
if [ -z "${CONFIG:-}" ]; then
    CONFIG=$WORK/backtest.toml
    printf 'run = ["complete_set"]\nbaseline = false\n' > "$CONFIG"
fi
declare -a TIMES
for _ in $(seq "$N"); do
    k=0
    for b in "$@"; do
        s=$(date +%s%N)
        "$b" backtest --recording "$REC" --config "$CONFIG" --out "$WORK/alternate-$k" > /dev/null
        e=$(date +%s%N)
        TIMES[k]+="$(( (e - s) / 1000000 )) "
        k=$((k + 1))
    done
done
k=0
for b in "$@"; do
    echo -n "$b: "
    echo "${TIMES[k]}" | tr ' ' '\n' | grep . | sort -n |
        awk '{a[NR]=$1} END {printf "min %.3f s, median %.3f s, max %.3f s (%d runs)\n", a[1]/1000, a[int((NR+1)/2)]/1000, a[NR]/1000, NR}'
    k=$((k + 1))
done
echo "reports: $WORK/alternate-<n>/summary.json; load: $(cut -d' ' -f1-3 /proc/loadavg)"
