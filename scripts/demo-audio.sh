#!/usr/bin/env bash
# Optional demo step: real, freely licensed music to hear in the web page. Fetches the game
# soundtracks of three Debian packages (without installing them), copies them with their
# copyright files into DATA_DIR/audio (a folder `serve` may stream from) and ingests them.
#   scripts/demo-audio.sh [DATA_DIR]      (default: $MUSIC_RAG_DATA_DIR or ./data)
# Licences: catalog/README.md ("Audio for the demo").
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-${MUSIC_RAG_DATA_DIR:-./data}}
BIN=${MUSIC_RAG_BIN:-./target/release/music-rag}
PACKAGES="wesnoth-1.16-music singularity-music asc-music"
if [ ! -x "$BIN" ]; then
  cargo build --release --quiet --bin music-rag
fi
echo "fetching the soundtracks of: $PACKAGES"
cache=$(bench/audio/fetch_debian_music.sh $PACKAGES)
for pkg in $PACKAGES; do
  dest="$DATA_DIR/audio/$pkg"
  mkdir -p "$dest"
  find "$cache/$pkg" -type f \( -name '*.ogg' -o -name '*.mp3' \) -exec cp -u {} "$dest/" \;
  cp "$cache/$pkg/usr/share/doc/$pkg/copyright" "$dest/COPYRIGHT"
done
"$BIN" --data-dir "$DATA_DIR" ingest-audio "$DATA_DIR/audio"
echo "done: run \`$BIN --data-dir $DATA_DIR serve\` and open http://127.0.0.1:8000/"
