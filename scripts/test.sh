#!/usr/bin/env bash
# Runs every test with the real model: fetches the model if missing, installs the browser
# tests' npm packages, then runs the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin music-rag
./target/debug/music-rag model fetch
# The web page's browser tests (crates/cli/tests/ui.rs) drive Chromium with these packages.
npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
cargo test --workspace --no-fail-fast "$@"
