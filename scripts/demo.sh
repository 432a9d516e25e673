#!/usr/bin/env bash
# The main job on a fresh machine: build, fetch the model, load the demo catalog, answer queries.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin music-rag
./target/release/music-rag model fetch
./target/release/music-rag demo "$@"
