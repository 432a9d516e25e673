#!/usr/bin/env bash
# The original Python stack and music-rag in one sitting (issue 15): the same synthetic catalog,
# the same ingest client, the same wrk script, and the same distinct queries (two disjoint
# files from the peer's distinct_queries.py: one for c=1, one for c=32), so no cache helps.
#
#   bench/vs_original.sh                       N=10000, DURATION=20s, our backends auto and packed
#   BACKENDS="auto int8 packed" bench/vs_original.sh
#
# Needs the peer's virtual environment (see ../shared/peer-seed-stack/README.md) and wrk.
# Results: target/bench/vs_original/{peer,ours-BACKEND}.txt
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEER=${PEER:-$ROOT/../shared/peer-seed-stack}
OUT=$ROOT/target/bench/vs_original
mkdir -p "$OUT"
export N=${N:-10000} DURATION=${DURATION:-20s}
python3 "$PEER/distinct_queries.py" 60000 > "$OUT/distinct.txt"
head -n 30000 "$OUT/distinct.txt" > "$OUT/q2.txt"
tail -n 30000 "$OUT/distinct.txt" > "$OUT/q3.txt"
export QUERIES2=$OUT/q2.txt QUERIES3=$OUT/q3.txt
(cd "$ROOT" && cargo build --release --quiet --bin music-rag)
(cd "$PEER" && ./run.sh) | tee "$OUT/peer.txt"
for backend in ${BACKENDS:-auto packed}; do
  MUSIC_RAG_EMBED_BACKEND=$backend BIN=$ROOT/target/release/music-rag "$ROOT/bench/http.sh" \
    | tee "$OUT/ours-$backend.txt"
done
