#!/usr/bin/env bash
# Snapshot, restore and verify times and sizes, and the search latency cost of snapshots taken
# while serving (every query distinct, so no cache hides it).
#
#   bench/snapshot.sh                    the demo catalog
#   CATALOG=/tmp/jamendo.jsonl bench/snapshot.sh
#
# Knobs: BIN (target/release/music-rag, built if missing) PORT (8767) DURATION (15s) KEEP=1
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer-seed-stack}
PORT=${PORT:-8767}; DURATION=${DURATION:-15s}; CATALOG=${CATALOG:-}
BIN=${BIN:-$ROOT/target/release/music-rag}
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release --quiet --bin music-rag)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
"$BIN" model fetch >/dev/null
export TOP_K=10 QUERIES=$PEER/queries.txt
BASE="http://127.0.0.1:$PORT"
KEY=bench-admin-key-0001

WORK=$(mktemp -d /tmp/music-rag-snap.XXXXXX)
cleanup() { [ -n "${SVC_PID:-}" ] && kill "$SVC_PID" 2>/dev/null; [ -n "${LOOP_PID:-}" ] && kill "$LOOP_PID" 2>/dev/null; wait 2>/dev/null; [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
secs() { local t0; t0=$(date +%s.%N); "$@" > /dev/null; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b-a}'; }

if [ -n "$CATALOG" ]; then
  INGEST_S=$(secs "$BIN" --data-dir "$WORK/data" ingest "$CATALOG")
else
  INGEST_S=$(secs "$BIN" --data-dir "$WORK/data" init-sample-data)
fi
TRACKS=$("$BIN" --data-dir "$WORK/data" stats --json | python3 -c 'import sys,json; print(json.load(sys.stdin)["tracks"])')
DATA_MB=$(du -sm "$WORK/data" | cut -f1)
BACKUP_S=$(secs "$BIN" --data-dir "$WORK/data" backup --to "$WORK/one.mrsnap")
SNAP_MB=$(awk -v b="$(stat -c %s "$WORK/one.mrsnap")" 'BEGIN{printf "%.1f", b/1e6}')
RESTORE_S=$(secs "$BIN" --data-dir "$WORK/restored" restore "$WORK/one.mrsnap")
VERIFY_S=$(secs "$BIN" --data-dir "$WORK/restored" verify)
echo "tracks $TRACKS (ingest ${INGEST_S}s, data dir ${DATA_MB} MB): backup ${BACKUP_S}s, snapshot ${SNAP_MB} MB, restore ${RESTORE_S}s (keyword index rebuilt), verify ${VERIFY_S}s"

MUSIC_RAG_API_KEYS="$KEY:admin" MUSIC_RAG_RATE_LIMIT_PER_SECOND=100000 MUSIC_RAG_RATE_LIMIT_BURST=100000 LOG_LEVEL=warn \
  "$BIN" --data-dir "$WORK/data" serve --port "$PORT" > "$WORK/serve.log" 2>&1 &
SVC_PID=$!
until curl -sf -o /dev/null "$BASE/ready"; do sleep 0.05; done
run_wrk() { # label
  local out; out=$(cd "$PEER" && API_KEY=$KEY wrk -t1 -c1 -d"$DURATION" --timeout 30s -H "X-API-Key: $KEY" -s "$HERE/search_distinct.lua" "$BASE" 2>&1)
  echo "$1 $(grep '^RESULT' <<<"$out" | sed 's/^RESULT //')"
}
run_wrk warmup > /dev/null
run_wrk "c1_distinct, no snapshot:    "
# Snapshots back to back for the whole run.
( n=0; while true; do curl -sf -o /dev/null -X POST -H "X-API-Key: $KEY" "$BASE/v1/admin/snapshots" && n=$((n+1)); echo $n > "$WORK/snapshots.count"; rm -f "$WORK"/data/snapshots/snapshot-*.mrsnap; done ) &
LOOP_PID=$!
run_wrk "c1_distinct, during snapshots:"
kill "$LOOP_PID"; wait "$LOOP_PID" 2>/dev/null || true; LOOP_PID=
echo "snapshots taken during the run: $(cat "$WORK/snapshots.count" 2>/dev/null || echo 0)"
