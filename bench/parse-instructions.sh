#!/usr/bin/env bash
# Instructions per parse+apply of the Polymarket market-channel benchmarks (book, one- and
# two-entry price_change), counted by valgrind's callgrind: repeatable on a loaded machine, where
# criterion's times are not. Then the fastest-batch and median times per parse+apply.
#
#   bench/parse-instructions.sh            # 10,000 iterations per benchmark
#   ITERATIONS=50000 bench/parse-instructions.sh
#
# Needs valgrind. Uses the parse bench's POLYEDGE_PARSE_LOOP and POLYEDGE_PARSE_MIN modes
# (crates/venues/benches/parse.rs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${ITERATIONS:-10000}
cd "$ROOT"
BIN=$(cargo bench -p polyedge-venues --bench parse --no-run 2>&1 \
    | grep -o 'target/release/deps/parse-[0-9a-f]*' | tail -1)
[ -x "$BIN" ] || { echo "parse bench binary not found" >&2; exit 1; }
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
for c in price_change_1 price_change_2 book; do
    POLYEDGE_PARSE_LOOP=$c:$N valgrind --tool=callgrind --toggle-collect='*parse_loop*' \
        --callgrind-out-file="$OUT/$c.out" "$BIN" > /dev/null 2> "$OUT/$c.log"
    total=$(grep -o 'Collected : [0-9]*' "$OUT/$c.log" | grep -o '[0-9]*$')
    echo "$c: $((total / N)) instructions per parse+apply (callgrind, $N iterations)"
done
POLYEDGE_PARSE_MIN=price_change_1,price_change_2,book "$BIN"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
