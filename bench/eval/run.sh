#!/usr/bin/env bash
# Reproduces the tables of docs/QUALITY.md: builds the dev sets from ../shared/data, loads the
# demo catalog and 10,000 MTG-Jamendo tracks into stores under target/eval, and evaluates
# every method on every set.   Usage: bench/eval/run.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/data}
OUT=target/eval
cargo build --release -q -p music-rag
B=target/release/music-rag
python3 bench/eval/build_sets.py "$DATA" "$OUT"
if [ ! -d "$OUT/demo-data" ]; then $B --data-dir "$OUT/demo-data" init-sample-data; fi
if [ ! -d "$OUT/jamendo-data" ]; then $B --data-dir "$OUT/jamendo-data" ingest "$OUT/jamendo_catalog.jsonl"; fi
for set in musiccaps harmonix_known harmonix_facts; do
  $B --data-dir "$OUT/demo-data" eval --queries "$OUT/$set.jsonl"
done
$B --data-dir "$OUT/jamendo-data" eval --queries "$OUT/jamendo.jsonl"
