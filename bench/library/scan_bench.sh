#!/usr/bin/env bash
# Library scan and search3 benchmark on a generated folder of tagged files
# (bench/library/make_library.py makes one: copies of real music, re-tagged).
#   bench/library/scan_bench.sh LIBRARY_DIR [BIN]
# Prints: first scan (tags only) and rescans (nothing changed; 100 files touched) with wall time
# and peak RSS, then search3 latency through the real server (empty query paging 500 songs, and
# plain-words queries) measured by bench/library/search3_latency.py.
set -euo pipefail
cd "$(dirname "$0")/../.."
LIB=${1:?usage: scan_bench.sh LIBRARY_DIR [BIN]}
BIN=${2:-target/release/music-rag}
DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
SERVER=
files=$(find "$LIB" -type f \( -name '*.mp3' -o -name '*.ogg' -o -name '*.flac' \) | wc -l)
echo "library: $files audio files in $LIB"
measure() {
  local label=$1; shift
  /usr/bin/time -f "%e %M" -o "$DATA/time" "$@" > "$DATA/out.json" || true
  read -r wall rss < "$DATA/time"
  python3 - "$label" "$wall" "$rss" "$DATA/out.json" <<'PY'
import json, sys
label, wall, rss, out = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
r = json.loads(open(out).read().strip().splitlines()[-1])
print(f"{label}: {wall:.2f} s wall, peak RSS {rss/1024:.0f} MiB; files {r['files']}, read {r['read']}, "
      f"unchanged {r['unchanged']}, failed {len(r['failed'])}, vanished {len(r['vanished'])}")
PY
}
measure "first scan (tags only)" "$BIN" --data-dir "$DATA" scan "$LIB" --no-analysis --json
measure "rescan, nothing changed" "$BIN" --data-dir "$DATA" scan "$LIB" --no-analysis --json
(find "$LIB" -type f -name '*.mp3' -print0 || true) | head -z -n 100 | xargs -0 touch
measure "rescan, 100 files touched" "$BIN" --data-dir "$DATA" scan "$LIB" --no-analysis --json
echo "bench-password" > "$DATA/pw"
"$BIN" --data-dir "$DATA" user add bench --password-file "$DATA/pw" > /dev/null
MUSIC_RAG_SCAN_ON_START=false "$BIN" --data-dir "$DATA" serve --port 0 --music-folder "$LIB" > "$DATA/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do
  base=$(sed -n 's/^listening on //p' "$DATA/serve.log")
  [ -n "$base" ] && break
  sleep 0.2
done
python3 bench/library/search3_latency.py "$base" bench bench-password
