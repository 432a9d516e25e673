#!/usr/bin/env bash
# Load benchmark of `music-rag serve`, driven like the original Python stack's harness
# (../shared/peer-seed-stack): same catalog generator, same ingest client, same wrk script and
# queries, same concurrency. Run the peer's own run.sh in the same sitting to compare.
#
#   bench/http.sh                       synthetic peer catalog, N=10000 (seed 42)
#   N=1000 bench/http.sh
#   CATALOG=/tmp/jamendo.jsonl bench/http.sh
#   QUERIES2=/tmp/d1.txt QUERIES3=/tmp/d2.txt bench/http.sh   also runs c=1 and c=32 over these
#     files with the peer's search.lua, as the peer's run.sh does (every query distinct when
#     made by its distinct_queries.py)
#
# Knobs: PORT (8766) DURATION (20s) WARMUP (3s) TOP_K (10) BATCH (100) KEEP=1
#        BIN=/path/to/music-rag (another build, e.g. the previous version, instead of this one)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer-seed-stack}
PORT=${PORT:-8766}; N=${N:-10000}; CATALOG=${CATALOG:-}
DURATION=${DURATION:-20s}; WARMUP=${WARMUP:-3s}; BATCH=${BATCH:-100}
export TOP_K=${TOP_K:-10} QUERIES=$PEER/queries.txt
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet --bin music-rag)
  BIN=$ROOT/target/release/music-rag
fi
"$BIN" model fetch >/dev/null

WORK=$(mktemp -d /tmp/music-rag-bench.XXXXXX)
cleanup() { [ -n "${SVC_PID:-}" ] && kill "$SVC_PID" 2>/dev/null; wait 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
if [ -n "$CATALOG" ]; then cp "$CATALOG" "$WORK/catalog.jsonl"; else python3 "$PEER/gen_catalog.py" --n "$N" --seed 42 > "$WORK/catalog.jsonl"; fi
NTRACKS=$(wc -l < "$WORK/catalog.jsonl")
kb() { awk -v k="$1" '$1==k":"{print $2}' "/proc/$SVC_PID/status"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.0f", k/1024}'; }

# Starts the server (rate limits out of the way); sets SVC_PID and READY_S (seconds to /ready).
start_server() {
  local t0; t0=$(date +%s.%N)
  MUSIC_RAG_RATE_LIMIT_PER_SECOND=100000 MUSIC_RAG_RATE_LIMIT_BURST=100000 LOG_LEVEL=warn \
    "$BIN" --data-dir "$WORK/data" serve --port "$PORT" > "$WORK/serve.log" 2>&1 &
  SVC_PID=$!
  until curl -sf -o /dev/null "$BASE/ready"; do sleep 0.02; done
  READY_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}')
}
start_server; STARTUP_S=$READY_S
RSS_IDLE=$(kb VmRSS)
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{printf "%.3f", ($14+$15)/t}' "/proc/$SVC_PID/stat"; }
IC0=$(cpu_s); IT0=$(date +%s.%N)
ING=$(python3 "$PEER/ingest.py" --port "$PORT" --file "$WORK/catalog.jsonl" --batch "$BATCH")
echo "$ING"
# Cores the server kept busy while ingesting (2.00 = both cores of this machine).
echo "ingest: server used $(awk -v a="$IC0" -v b="$(cpu_s)" -v t0="$IT0" -v t1="$(date +%s.%N)" 'BEGIN{printf "%.2f", (b-a)/(t1-t0)}') cores"
COUNT=$(curl -s "$BASE/stats" | python3 -c 'import sys,json; print(json.load(sys.stdin)["tracks"])')
[ "$COUNT" = "$NTRACKS" ] || { echo "store holds $COUNT of $NTRACKS tracks" >&2; exit 1; }
RSS_INGEST=$(kb VmRSS)
# Restart on the ingested store: start-up time and idle memory with a full catalog.
kill -TERM "$SVC_PID"; wait "$SVC_PID" || true
start_server; RESTART_S=$READY_S
RSS_IDLE_FULL=$(kb VmRSS)

run_wrk() { # threads conns duration script label
  local out; out=$(cd "$PEER" && wrk -t"$1" -c"$2" -d"$3" --timeout 30s -s "$4" "$BASE" 2>&1)
  echo "$5 $(grep '^RESULT' <<<"$out" | sed 's/^RESULT //')"
}
run_wrk 1 1 "$WARMUP" "$PEER/search.lua" warmup >/dev/null
run_wrk 1 1 "$DURATION" "$PEER/search.lua" "c1"
run_wrk 2 32 "$DURATION" "$PEER/search.lua" "c32"
run_wrk 1 1 "$DURATION" "$HERE/search_distinct.lua" "c1_distinct"
run_wrk 2 32 "$DURATION" "$HERE/search_distinct.lua" "c32_distinct"
if [ -n "${QUERIES2:-}" ]; then
  QUERIES=$QUERIES2 run_wrk 1 1 "$DURATION" "$PEER/search.lua" "d1"
  QUERIES=${QUERIES3:-$QUERIES2} run_wrk 2 32 "$DURATION" "$PEER/search.lua" "d32"
fi
echo "tracks $NTRACKS; ready ${STARTUP_S}s empty, ${RESTART_S}s with the catalog"
echo "RSS MiB: idle empty $(mib "$RSS_IDLE"), after ingest $(mib "$RSS_INGEST"), idle full $(mib "$RSS_IDLE_FULL"), end $(mib "$(kb VmRSS)"), peak $(mib "$(kb VmHWM)")"
