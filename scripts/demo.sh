#!/usr/bin/env bash
# The main job on a fresh machine: build, fetch the model, load the demo catalog, answer queries.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "building music-rag (release; the first build takes about 15 minutes on 2 cores, later ones seconds)"
cargo build --release --bin music-rag
./target/release/music-rag model fetch
./target/release/music-rag demo "$@"
