#!/usr/bin/env bash
# Real music from Debian packages (fetched, never installed): ingests Wesnoth, Singularity,
# Drascula and ASC soundtracks, then checks that every file was read and analysed and that the
# stored tags equal the files' own tags as vorbiscomment (an independent reader) prints them.
#   bench/audio/real_audio.sh            (needs vorbis-tools for vorbiscomment)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p music-rag
B=target/release/music-rag
CACHE=$(bench/audio/fetch_debian_music.sh)
DATA=target/audio-bench/data
rm -rf "$DATA"
mkdir -p target/audio-bench
for pkg in wesnoth-1.16-music singularity-music drascula-music asc-music; do
  $B --data-dir "$DATA" ingest-audio "$CACHE/$pkg" --json > "target/audio-bench/$pkg.json"
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{sys.argv[2]}: {r['files']} files, {r['created']} created, {len(r['failed'])} failed, {r['untagged']} untagged, {r['audio_seconds']:.0f} s of audio, {r['audio_seconds_per_cpu_second']:.0f} s of audio per CPU-second\")" "target/audio-bench/$pkg.json" "$pkg"
done
$B --data-dir "$DATA" list --json > target/audio-bench/tracks.jsonl
python3 - "$CACHE" <<'PY'
import json, os, subprocess, sys
cache = sys.argv[1]
tracks = {json.loads(l)["audio_path"]: json.loads(l) for l in open("target/audio-bench/tracks.jsonl")}
files = [os.path.realpath(os.path.join(r, f)) for r, _, fs in os.walk(cache) for f in fs
         if f.lower().endswith((".ogg", ".mp3"))]
files = sorted(set(files))
missing = [f for f in files if f not in tracks]
assert not missing, f"not indexed: {missing[:3]}"
checked = mismatched = 0
for f in files:
    t = tracks[f]
    a = t.get("audio") or {}
    assert len(a.get("vector", [])) == 48, f"no analysis for {f}"
    if not f.endswith(".ogg"):
        continue
    out = subprocess.run(["vorbiscomment", "-l", f], capture_output=True, text=True).stdout
    tags = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        tags.setdefault(k.upper(), v.strip())
    want = {"title": tags.get("TITLE"), "artist": tags.get("ARTIST"), "album": tags.get("ALBUM")}
    if want["title"]:
        got = {"title": t["title"], "artist": t["artist"], "album": t.get("album")}
        want = {k: v for k, v in want.items() if v}
        got = {k: got[k] for k in want}
        checked += 1
        if got != want:
            mismatched += 1
            print("tag mismatch", f, got, want)
    else:
        assert t["artist"] == "Unknown artist", f
print(f"{len(files)} files indexed and analysed; tags of {checked} tagged OGG files compared "
      f"with vorbiscomment: {mismatched} mismatches")
sys.exit(1 if mismatched else 0)
PY
$B --data-dir "$DATA" search "slow dark orchestral piece in a minor key" -k 5
