#!/usr/bin/env bash
# Runs every test with the real model: fetches the model if missing, then the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin music-rag
./target/debug/music-rag model fetch
cargo test --workspace --no-fail-fast "$@"
