#!/usr/bin/env bash
# Reproduces the tables of docs/QUALITY.md: builds the dev sets from ../shared/data, loads the
# demo catalog and 10,000 MTG-Jamendo tracks into stores under target/eval, and evaluates
# every method on every set (bench/eval/peer.sh scores the original Python stack on the same).
# Usage: bench/eval/run.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/data}
OUT=target/eval
# B=path/to/music-rag scores another build (e.g. a copy of the previous version).
if [ -z "${B:-}" ]; then cargo build --release -q -p music-rag; B=target/release/music-rag; fi
python3 bench/eval/build_sets.py "$DATA" "$OUT"
python3 bench/eval/names_set.py "$OUT"
python3 bench/eval/questions_set.py "$OUT"
# A store is built under a temporary name and renamed when complete, so an interrupted run
# never leaves a partial store that a later run would take for done.
load() { # dir command...
  local dir=$1; shift
  [ -d "$dir" ] && return
  rm -rf "$dir.partial"
  "$B" --data-dir "$dir.partial" "$@" && mv "$dir.partial" "$dir"
}
load "$OUT/heldout-data" ingest "$OUT/heldout_catalog.jsonl"
$B --data-dir "$OUT/heldout-data" eval --queries "$OUT/descriptive.jsonl"
load "$OUT/demo-data" init-sample-data
load "$OUT/jamendo-data" ingest "$OUT/jamendo_catalog.jsonl"
for set in musiccaps harmonix_known harmonix_facts names; do
  $B --data-dir "$OUT/demo-data" eval --queries "$OUT/$set.jsonl"
done
$B --data-dir "$OUT/jamendo-data" eval --queries "$OUT/jamendo.jsonl"
# Questions over the catalog as a whole (planner): answers only.
$B --data-dir "$OUT/demo-data" eval --queries "$OUT/questions.jsonl" --method rerank
