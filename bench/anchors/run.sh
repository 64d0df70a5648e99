#!/usr/bin/env bash
# Side-by-side benchmark: hftbacktest 2.4.4 and polyedge on the same real Polymarket book frames,
# timed alternately in one run. See bench/anchors/README.md. Not part of the test command.
#
# Environment (all optional):
#   CRONOS_DATA   the cronos_btc5m_books dataset   (default: ../shared/data/cronos_btc5m_books)
#   ANCHORS_DIR   work directory: venv, recording, converted events (default: target/anchors)
#   ANCHORS_VENV  Python virtual environment      (default: $ANCHORS_DIR/venv)
#   REPS          repetitions                      (default: 3)
#   VARIANTS      hftbacktest variants             (default: local,exch+local)
#   TOKENS        most-recorded | all              (default: most-recorded)
#   POLYEDGE_BASELINE  another polyedge binary (e.g. built from an earlier commit) whose
#                 backtest is timed in the same run; POLYEDGE_BASELINE_LABEL names it
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DATA=${CRONOS_DATA:-$ROOT/../shared/data/cronos_btc5m_books}
WORK=${ANCHORS_DIR:-$ROOT/target/anchors}
VENV=${ANCHORS_VENV:-$WORK/venv}
REPS=${REPS:-3}
VARIANTS=${VARIANTS:-local,exch+local}
TOKENS=${TOKENS:-most-recorded}

if [ ! -d "$DATA" ]; then
    echo "cronos dataset not found at $DATA (set CRONOS_DATA)" >&2
    exit 2
fi
if [ ! -x /usr/bin/time ]; then
    echo "/usr/bin/time not found (Debian package 'time'): it measures polyedge's peak RSS" >&2
    exit 2
fi
mkdir -p "$WORK"

# 1. hftbacktest, pinned, in a virtual environment of our own.
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import hftbacktest; assert hftbacktest.__version__ == "2.4.4"' 2>/dev/null; then
    echo "== creating $VENV with hftbacktest 2.4.4"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet -r "$ROOT/bench/anchors/requirements.txt"
fi

# 2. polyedge and the converter, release profile.
echo "== building polyedge and polyedge-bench (release)"
(cd "$ROOT" && cargo build --release --quiet -p polyedge -p polyedge-bench)
BIN="$ROOT/target/release"

# 3. The recording (imported once).
REC="$WORK/cronos-rec"
if [ ! -f "$REC/recording.json" ]; then
    echo "== importing $DATA into $REC"
    rm -rf "$REC"
    "$BIN/polyedge" import cronos "$DATA" --out "$REC"
fi

# 4. hftbacktest's events, written by our converter (once per recording and token choice).
EVENTS="$WORK/events-$TOKENS.npy"
CONV="$WORK/events-$TOKENS.json"
if [ ! -s "$CONV" ] || [ ! -s "$EVENTS" ] || [ "$REC/recording.json" -nt "$CONV" ] || [ "$BIN/polyedge-bench" -nt "$CONV" ]; then
    echo "== converting $REC into $EVENTS"
    "$BIN/polyedge-bench" hbt-convert --recording "$REC" --out "$EVENTS" --tokens "$TOKENS" > "$CONV.tmp"
    mv "$CONV.tmp" "$CONV"
fi
echo "== conversion: $(tr -d '\n ' < "$CONV")"

# 5. Both tools, alternately.
echo "== side by side ($REPS repetitions)"
"$VENV/bin/python" "$ROOT/bench/anchors/side_by_side.py" \
    --events "$EVENTS" --conversion "$CONV" \
    --polyedge "$BIN/polyedge" --recording "$REC" \
    --reps "$REPS" --variants "$VARIANTS" \
    ${POLYEDGE_BASELINE:+--baseline "$POLYEDGE_BASELINE" --baseline-label "${POLYEDGE_BASELINE_LABEL:-baseline}"}
