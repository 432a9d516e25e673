#!/usr/bin/env bash
# The quality sets as a PostgreSQL replica answers them: each store bench/eval/run.sh built is
# moved into a PostgreSQL schema (export --with-vectors, ingest: no re-embedding), a replica
# starts over it and makes its local copy (what it searches), and every set is evaluated on
# that copy, so the numbers are those of the replica's search path, not of the store the
# catalog came from; then the same sets searched in PostgreSQL (`MUSIC_RAG_REPLICA_COPY=false`,
# and every one-shot command with a database URL).
#
#   bench/eval/run.sh && bench/eval/replica.sh
#
# B=path/to/music-rag as in run.sh; IN_POSTGRES=0 skips the PostgreSQL half.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=target/eval
if [ -z "${B:-}" ]; then cargo build --release -q -p music-rag; B=target/release/music-rag; fi
for store in heldout-data demo-data jamendo-data; do
  [ -d "$OUT/$store" ] || { echo "run bench/eval/run.sh first: $OUT/$store is missing" >&2; exit 2; }
done
URL=$(scripts/postgres.sh start | tail -n 1)
PGBIN=$(scripts/postgres.sh bin)
WORK=$(mktemp -d /tmp/music-rag-eval-replica.XXXXXX)
SCHEMAS=()
cleanup() {
  for s in "${SCHEMAS[@]}"; do "$PGBIN/psql" -q "$URL" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export LOG_LEVEL=warn
# Copies `store` into PostgreSQL and prints the folder of a replica's copy of it.
replica_copy() { # store
  local schema="eval_${1%-data}_$$" port
  echo "$schema" > "$WORK/$1.schema"
  SCHEMAS+=("$schema")
  "$B" --data-dir "$OUT/$1" export --with-vectors -o "$WORK/$1.ndjson" >/dev/null
  DATABASE_URL=$URL MUSIC_RAG_DATABASE_SCHEMA=$schema "$B" ingest "$WORK/$1.ndjson" --json >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  DATABASE_URL=$URL MUSIC_RAG_DATABASE_SCHEMA=$schema "$B" --data-dir "$WORK/$1-replica" serve --port "$port" >"$WORK/$1.log" 2>&1 &
  local pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/ready"; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$1.log" >&2; exit 1; }
    sleep 0.1
  done
  kill "$pid"; wait "$pid"
  echo "$WORK/$1-replica/replica/$schema"
}
heldout=$(replica_copy heldout-data)
demo=$(replica_copy demo-data)
jamendo=$(replica_copy jamendo-data)
SCHEMAS=("$(cat "$WORK/heldout-data.schema")" "$(cat "$WORK/demo-data.schema")" "$(cat "$WORK/jamendo-data.schema")")
echo "== searching the replica's local copy"
$B --data-dir "$heldout" eval --queries "$OUT/descriptive.jsonl"
for set in musiccaps harmonix_known harmonix_facts names; do
  $B --data-dir "$demo" eval --queries "$OUT/$set.jsonl"
done
$B --data-dir "$jamendo" eval --queries "$OUT/jamendo.jsonl"
$B --data-dir "$demo" eval --queries "$OUT/questions.jsonl" --method rerank
[ "${IN_POSTGRES:-1}" = 1 ] || exit 0
echo "== searching in PostgreSQL"
in_pg() { # store eval-args...
  DATABASE_URL=$URL MUSIC_RAG_DATABASE_SCHEMA=$(cat "$WORK/$1.schema") "$B" eval "${@:2}"
}
in_pg heldout-data --queries "$OUT/descriptive.jsonl"
for set in musiccaps harmonix_known harmonix_facts names; do
  in_pg demo-data --queries "$OUT/$set.jsonl"
done
in_pg jamendo-data --queries "$OUT/jamendo.jsonl"
in_pg demo-data --queries "$OUT/questions.jsonl" --method rerank
