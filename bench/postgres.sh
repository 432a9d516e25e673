#!/usr/bin/env bash
# The embedded store against PostgreSQL on one catalog, in one sitting: ingest, search latency
# and throughput with every query distinct (one replica, then two behind nginx), memory, disk.
#
#   python3 bench/jamendo_catalog.py ../shared/data/mtg-jamendo/autotagging_all_split0.tsv > /tmp/jamendo.jsonl
#   CATALOG=/tmp/jamendo.jsonl bench/postgres.sh
#
# Knobs: CATALOG (required) SUBSET (5000: tracks ingested with embedding on both stores)
#        DURATION (20s) BIN (release build of this tree) KEEP=1 (keep the work folder)
#        VECTORS (an `export --with-vectors` of CATALOG made earlier: skips embedding it again)
# Recall of the HNSW index against exact search: bench/pg_recall.py (printed at the end).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer-seed-stack}
: "${CATALOG:?set CATALOG to a catalog file (JSON lines)}"
SUBSET=${SUBSET:-5000}; DURATION=${DURATION:-20s}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx; nginx -s quit 2>/dev/null || true; }
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --quiet --bin music-rag)
  BIN=$ROOT/target/release/music-rag
fi
"$BIN" model fetch >/dev/null
URL=$("$ROOT/scripts/postgres.sh" start | tail -n 1)
PGBIN=$("$ROOT/scripts/postgres.sh" bin)
SCHEMA=bench_$$
WORK=$(mktemp -d /tmp/music-rag-pgbench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  "$PGBIN/psql" -q "$URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
  [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
export MUSIC_RAG_RATE_LIMIT_PER_SECOND=100000 MUSIC_RAG_RATE_LIMIT_BURST=100000 LOG_LEVEL=warn
pg() { DATABASE_URL=$URL MUSIC_RAG_DATABASE_SCHEMA=$1 "$BIN" "${@:2}"; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

echo "== ingest with embedding, the first $SUBSET tracks"
head -n "$SUBSET" "$CATALOG" > "$WORK/subset.jsonl"
t0=$(date +%s.%N); "$BIN" --data-dir "$WORK/sub-embedded" ingest "$WORK/subset.jsonl" --json > /dev/null
echo "embedded: $SUBSET tracks in $(secs "$t0") s"
t0=$(date +%s.%N); pg "${SCHEMA}_sub" ingest "$WORK/subset.jsonl" --json > /dev/null
echo "postgres: $SUBSET tracks in $(secs "$t0") s"
PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -q "$URL" -c "DROP SCHEMA ${SCHEMA}_sub CASCADE" >/dev/null

echo "== the whole catalog, vectors given (embedded once, exported, loaded into both)"
NTRACKS=$(wc -l < "$CATALOG")
if [ -n "${VECTORS:-}" ]; then
  ln -s "$VECTORS" "$WORK/vectors.jsonl"
else
  t0=$(date +%s.%N); "$BIN" --data-dir "$WORK/embedded" ingest "$CATALOG" --json > /dev/null
  echo "embedded with embedding: $NTRACKS tracks in $(secs "$t0") s"
  "$BIN" --data-dir "$WORK/embedded" export --with-vectors -o "$WORK/vectors.jsonl"
fi
t0=$(date +%s.%N); "$BIN" --data-dir "$WORK/embedded-given" ingest "$WORK/vectors.jsonl" --json > /dev/null
echo "embedded, vectors given: $NTRACKS tracks in $(secs "$t0") s"
t0=$(date +%s.%N); pg "$SCHEMA" ingest "$WORK/vectors.jsonl" --json > /dev/null
echo "postgres, vectors given: $NTRACKS tracks in $(secs "$t0") s"
"$PGBIN/psql" -q "$URL" -c "VACUUM ANALYZE $SCHEMA.tracks"
"$PGBIN/psql" -At "$URL" -c "SELECT 'postgres disk: tracks ' || pg_size_pretty(pg_total_relation_size('$SCHEMA.tracks')) || ', of which indexes ' || pg_size_pretty(pg_indexes_size('$SCHEMA.tracks'))"
echo "embedded disk: $(du -sh "$WORK/embedded-given" | cut -f1)"

python3 "$PEER/distinct_queries.py" 60000 > "$WORK/distinct.txt"
split -n l/6 -d "$WORK/distinct.txt" "$WORK/q"
kb() { awk -v k="$1" '$1==k":"{print $2}' "/proc/$2/status"; }
serve() { # label port [pg]
  if [ "${3:-}" = pg ]; then
    DATABASE_URL=$URL MUSIC_RAG_DATABASE_SCHEMA=$SCHEMA "$BIN" --data-dir "$WORK/$1" serve --port "$2" > "$WORK/$1.log" 2>&1 &
  else
    "$BIN" --data-dir "$WORK/embedded-given" serve --port "$2" > "$WORK/$1.log" 2>&1 &
  fi
  PIDS+=($!)
  local t0; t0=$(date +%s.%N)
  until curl -sf -o /dev/null "http://127.0.0.1:$2/ready"; do sleep 0.05; done
  echo "$1 ready in $(secs "$t0") s, RSS $(( $(kb VmRSS "${PIDS[-1]}") / 1024 )) MiB"
}
wrk_run() { # label threads conns queries port
  local out
  out=$(cd "$PEER" && QUERIES=$4 TOP_K=10 wrk -t"$2" -c"$3" -d"$DURATION" --timeout 30s -s "$PEER/search.lua" "http://127.0.0.1:$5" 2>&1)
  echo "$1 $(grep '^RESULT' <<<"$out" | sed 's/^RESULT //')"
}

echo "== search, every query distinct (peer search.lua, distinct_queries.py)"
serve embedded 8801
wrk_run "embedded c=1" 1 1 "$WORK/q00" 8801
wrk_run "embedded c=32" 2 32 "$WORK/q01" 8801
echo "embedded RSS after load: $(( $(kb VmRSS "${PIDS[-1]}") / 1024 )) MiB"
kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null || true
serve replica-1 8802 pg
wrk_run "postgres, one replica, c=1" 1 1 "$WORK/q02" 8802
wrk_run "postgres, one replica, c=32" 2 32 "$WORK/q03" 8802
serve replica-2 8803 pg
sed -e "s/server music-rag-1:8000/server 127.0.0.1:8802/; s/server music-rag-2:8000/server 127.0.0.1:8803/; s/listen 8080/listen 127.0.0.1:8804/" \
  "$ROOT/deploy/nginx/music-rag.conf" > "$WORK/lb.conf"
printf 'pid %s/nginx.pid;\nerror_log %s/nginx.err;\nevents {}\nhttp {\naccess_log off;\ninclude %s/lb.conf;\n}\n' "$WORK" "$WORK" "$WORK" > "$WORK/nginx.conf"
nginx -e "$WORK/nginx.err" -c "$WORK/nginx.conf" -g "daemon off;" & PIDS+=($!)
until curl -sf -o /dev/null "http://127.0.0.1:8804/health"; do sleep 0.05; done
wrk_run "postgres, two replicas behind nginx, c=32" 2 32 "$WORK/q04" 8804
for p in 8802 8803; do
  pid=$(pgrep -f -- "--port $p" | head -1)
  echo "replica on $p RSS: $(( $(kb VmRSS "$pid") / 1024 )) MiB"
done
echo "postgres RSS (all its processes): $(ps -u musicrag-pg -o rss= 2>/dev/null | awk '{s+=$1} END {printf "%.0f MiB", s/1024}')"
VENV=$("$ROOT/scripts/postgres.sh" venv)
"$VENV/bin/python" -c "import psycopg" 2>/dev/null || "$VENV/bin/pip" install --quiet 'psycopg[binary]'
# Text queries (where HNSW misses most), embedded as the search embeds them.
head -n 200 "$WORK/q05" | "$BIN" model embed > "$WORK/query-vectors.jsonl"
EF=1000 QUERIES="$WORK/query-vectors.jsonl" "$VENV/bin/python" "$HERE/pg_recall.py" "$URL" "$SCHEMA" 200
