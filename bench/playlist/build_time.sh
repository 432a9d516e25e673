#!/usr/bin/env bash
# Playlist build time through the real server: POST /v1/playlist for 50 tracks (a theme, and
# seeds), each asked 7 times after one warm-up (the engine's response cache does not hold
# playlists, but searches inside one are cached after the first: the first time is reported
# apart). Usage: bench/playlist/build_time.sh DATA_DIR [BIN]
set -euo pipefail
DATA=${1:?usage: build_time.sh DATA_DIR [BIN]}
BIN=${2:-target/release/music-rag}
log=$(mktemp)
"$BIN" --data-dir "$DATA" serve --port 0 >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do base=$(sed -n 's/^listening on //p' "$log"); [ -n "$base" ] && break; sleep 0.2; done
seed=$("$BIN" --data-dir "$DATA" list --limit 1 --json 2>/dev/null | python3 -c "import json,sys; print(json.loads(sys.stdin.readline())['id'])" || true)
time_one() { curl -s -o /dev/null -w '%{time_total}\n' -X POST -H 'Content-Type: application/json' -d "$1" "$base/v1/playlist"; }
for body in '{"text": "melancholic piano", "length": 50}' "{\"seed_ids\": [\"$seed\"], \"length\": 50}" '{"text": "playful flute", "minutes": 200}'; do
  first=$(time_one "$body")
  times=$(for _ in 1 2 3 4 5 6 7; do time_one "$body"; done | sort -n)
  median=$(echo "$times" | sed -n 4p)
  echo "$body: first $(awk -v t="$first" 'BEGIN{printf "%.0f", t*1000}') ms, then median $(awk -v t="$median" 'BEGIN{printf "%.0f", t*1000}') ms"
done
