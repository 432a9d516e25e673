#!/usr/bin/env bash
# Two builds over the same PostgreSQL catalog in one sitting, alternately, with every query
# distinct (c=1), plus the embedded store with the new build for the ratio: what a change to
# the PostgreSQL path is worth, measured the same way as bench/postgres.sh.
#
#   OLD=/path/to/old/music-rag NEW=target/release/music-rag CATALOG=/tmp/jamendo.jsonl bench/postgres_ab.sh
#
# Knobs: DURATION (15s) ROUNDS (2) VECTORS (an `export --with-vectors` of CATALOG; else the
# catalog is embedded once by NEW); OLD_ENV / NEW_ENV, settings for that side's replica, e.g.
# OLD=$NEW OLD_ENV=MUSIC_RAG_REPLICA_COPY=false compares searching in PostgreSQL with searching
# the replica's local copy in one build (an older build refuses a newer schema).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer-seed-stack}
: "${OLD:?set OLD to the earlier build}" "${NEW:?set NEW to the build to compare}" "${CATALOG:?set CATALOG}"
DURATION=${DURATION:-15s}; ROUNDS=${ROUNDS:-2}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
"$NEW" model fetch >/dev/null
URL=$("$ROOT/scripts/postgres.sh" start | tail -n 1)
PGBIN=$("$ROOT/scripts/postgres.sh" bin)
SCHEMA=ab_$$
WORK=$(mktemp -d /tmp/music-rag-pgab.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$PGBIN/psql" -q "$URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
export MUSIC_RAG_RATE_LIMIT_PER_SECOND=100000 MUSIC_RAG_RATE_LIMIT_BURST=100000 LOG_LEVEL=warn
if [ -n "${VECTORS:-}" ]; then
  ln -s "$VECTORS" "$WORK/vectors.jsonl"
else
  "$NEW" --data-dir "$WORK/embed" ingest "$CATALOG" --json > /dev/null
  "$NEW" --data-dir "$WORK/embed" export --with-vectors -o "$WORK/vectors.jsonl"
  rm -rf "$WORK/embed"
fi
"$NEW" --data-dir "$WORK/embedded" ingest "$WORK/vectors.jsonl" --json > /dev/null
DATABASE_URL=$URL MUSIC_RAG_DATABASE_SCHEMA=$SCHEMA "$NEW" ingest "$WORK/vectors.jsonl" --json > /dev/null
"$PGBIN/psql" -q "$URL" -c "VACUUM ANALYZE $SCHEMA.tracks"
python3 "$PEER/distinct_queries.py" 60000 > "$WORK/distinct.txt"
split -n l/12 -d "$WORK/distinct.txt" "$WORK/q"
serve() { # bin port [pg [settings]]
  if [ "${3:-}" = pg ]; then
    # shellcheck disable=SC2086 # the settings are words on purpose
    env ${4:-} DATABASE_URL="$URL" MUSIC_RAG_DATABASE_SCHEMA=$SCHEMA "$1" --data-dir "$WORK/replica-$2" serve --port "$2" > "$WORK/$2.log" 2>&1 &
  else
    "$1" --data-dir "$WORK/embedded" serve --port "$2" > "$WORK/$2.log" 2>&1 &
  fi
  PIDS+=($!)
  until curl -sf -o /dev/null "http://127.0.0.1:$2/ready"; do sleep 0.05; done
}
stop() { kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true; unset 'PIDS[-1]'; }
run() { # label queries port
  local out
  out=$(cd "$PEER" && QUERIES=$2 TOP_K=10 wrk -t1 -c1 -d"$DURATION" --timeout 30s -s "$PEER/search.lua" "http://127.0.0.1:$3" 2>&1)
  echo "$1 $(grep '^RESULT' <<<"$out" | sed 's/^RESULT //')"
}
n=0
for round in $(seq 1 "$ROUNDS"); do
  for which in old new; do
    bin=$OLD; settings=${OLD_ENV:-}
    [ "$which" = new ] && { bin=$NEW; settings=${NEW_ENV:-}; }
    serve "$bin" 8811 pg "$settings"
    run "round $round postgres $which c=1" "$WORK/q$(printf %02d "$n")" 8811; n=$((n + 1))
    stop
  done
  serve "$NEW" 8812
  run "round $round embedded new c=1" "$WORK/q$(printf %02d "$n")" 8812; n=$((n + 1))
  stop
done
