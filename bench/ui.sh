#!/usr/bin/env bash
# The web page's typing-to-results latency on the demo catalog (release build, headless
# Chromium, distinct queries so no cache helps). Needs `npm ci --prefix tests/ui` and
# Debian's chromium. Usage: bench/ui.sh [N]   (DATA=dir with the demo catalog, else built)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40}
BIN=${BIN:-./target/release/music-rag}
DATA=${DATA:-/tmp/music-rag-ui-bench}
[ -x "$BIN" ] || cargo build --release --quiet --bin music-rag
[ -d tests/ui/node_modules ] || npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
"$BIN" model fetch >/dev/null
if [ ! -f "$DATA/catalog.sqlite" ]; then
  "$BIN" --data-dir "$DATA" init-sample-data >/dev/null
fi
queries=$(mktemp)
log=$(mktemp)
trap 'kill $server 2>/dev/null; rm -f "$queries" "$log"' EXIT
# Queries the other benchmarks do not use (the second 1,000 of the distinct list).
python3 ../shared/peer-seed-stack/distinct_queries.py 2000 | tail -n 1000 | shuf --random-source=<(yes) > "$queries"
"$BIN" --data-dir "$DATA" serve --port 0 >"$log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$log" | head -1)
[ -n "$base" ] || { echo "the server did not start:" >&2; cat "$log" >&2; exit 1; }
node bench/ui/typing.mjs "$base" "$queries" "$N"
