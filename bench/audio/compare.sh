#!/usr/bin/env bash
# Seconds of audio analysed per CPU-second: Music RAG's ingest-audio against librosa doing the
# original service's extraction, on the same real files (Debian soundtracks).
#   bench/audio/compare.sh [PKG ...]      (default: wesnoth-1.16-music singularity-music)
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES=${*:-wesnoth-1.16-music singularity-music}
cargo build --release -q -p music-rag
CACHE=$(bench/audio/fetch_debian_music.sh $PACKAGES)
VENV=target/librosa-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q librosa
fi
DIRS=""
for p in $PACKAGES; do DIRS="$DIRS $CACHE/$p"; done
ours_cpu=0; ours_audio=0
for d in $DIRS; do
  rm -rf target/audio-compare
  r=$(target/release/music-rag --data-dir target/audio-compare ingest-audio "$d" --json)
  ours_cpu=$(python3 -c "import json,sys; print($ours_cpu + json.loads(sys.argv[1])['analysis_cpu_seconds'])" "$r")
  ours_audio=$(python3 -c "import json,sys; print($ours_audio + json.loads(sys.argv[1])['audio_seconds'])" "$r")
done
theirs=$("$VENV/bin/python" bench/audio/librosa_bench.py $DIRS)
python3 - "$ours_audio" "$ours_cpu" "$theirs" <<'PY'
import json, sys
audio, cpu, lib = float(sys.argv[1]), float(sys.argv[2]), json.loads(sys.argv[3])
ours = audio / cpu
print(f"music-rag: {audio:.0f} s of audio in {cpu:.1f} CPU-s = {ours:.0f} s/CPU-s")
print(f"librosa:   {lib['audio_seconds']:.0f} s of audio in {lib['cpu_seconds']:.1f} CPU-s = {lib['audio_seconds_per_cpu_second']:.0f} s/CPU-s")
print(f"ratio: {ours / lib['audio_seconds_per_cpu_second']:.1f}x")
PY
