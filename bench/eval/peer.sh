#!/usr/bin/env bash
# Scores the original Python stack (../shared/peer-seed-stack: ChromaDB + sentence-transformers,
# dense only) on the same sets and catalog as bench/eval/run.sh, in the same sitting, through
# its own POST /search (`music-rag eval --against`).
#
#   bench/eval/peer.sh            after bench/eval/run.sh built target/eval
#
# Needs the peer's venv (VENV, default /tmp/peer-venv; see the peer's README.md for setup).
set -euo pipefail
cd "$(dirname "$0")/../.."
PEER=${PEER:-../shared/peer-seed-stack}
VENV=${VENV:-/tmp/peer-venv}
PORT=${PORT:-8765}
OUT=target/eval
B=${B:-target/release/music-rag}
BASE="http://127.0.0.1:$PORT"
[ -x "$VENV/bin/python" ] || { echo "no peer venv at $VENV (see $PEER/README.md)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/peer-eval.XXXXXX)
cleanup() { [ -n "${SVC_PID:-}" ] && kill "$SVC_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# One catalog at a time: the held-out demo catalog (descriptive set), the full demo catalog
# (musiccaps, harmonix sets).
score() { # catalog.jsonl sets...
  local catalog=$1; shift
  "$VENV/bin/python" "$PEER/gen_catalog.py" --input "$catalog" --out "$WORK/catalog.jsonl"
  rm -rf "$WORK/db"
  ( cd "$PEER" && PEER_DB_DIR="$WORK/db" exec "$VENV/bin/python" -m uvicorn service:app \
      --host 127.0.0.1 --port "$PORT" --log-level warning ) > "$WORK/peer.log" 2>&1 &
  SVC_PID=$!
  until curl -sf -o /dev/null "$BASE/health"; do sleep 0.5; done
  "$VENV/bin/python" "$PEER/ingest.py" --port "$PORT" --file "$WORK/catalog.jsonl" >&2
  for set in "$@"; do
    $B eval --queries "$OUT/$set.jsonl" --against "$BASE"
  done
  kill "$SVC_PID"; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=
}
# SETS=jamendo (or descriptive, demo) runs one part only.
SETS=${SETS:-descriptive demo jamendo}
for part in $SETS; do
  case $part in
    descriptive) score "$OUT/heldout_catalog.jsonl" descriptive ;;
    demo)
      cat catalog/harmonix.jsonl catalog/musicnet.jsonl catalog/musiccaps.jsonl > "$WORK/demo.jsonl"
      score "$WORK/demo.jsonl" musiccaps harmonix_known harmonix_facts names ;;
    jamendo) score "$OUT/jamendo_catalog.jsonl" jamendo ;;
  esac
done
