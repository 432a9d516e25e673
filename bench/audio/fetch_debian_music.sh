#!/usr/bin/env bash
# Fetches real music from Debian packages without installing them (apt-get download +
# dpkg -x) into a cache, and prints the folder. Usage: bench/audio/fetch_debian_music.sh [PKG...]
set -euo pipefail
CACHE=${MUSIC_RAG_AUDIO_CACHE:-$HOME/.cache/music-rag/debian-audio}
PACKAGES=${*:-wesnoth-1.16-music singularity-music drascula-music asc-music}
mkdir -p "$CACHE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for pkg in $PACKAGES; do
  if [ -d "$CACHE/$pkg" ]; then continue; fi
  if ! (cd "$work" && apt-get download "$pkg" >/dev/null 2>&1); then
    apt-get update -qq >/dev/null
    (cd "$work" && apt-get download "$pkg" >/dev/null)
  fi
  dpkg -x "$work/${pkg}"_*.deb "$CACHE/$pkg.partial"
  mv "$CACHE/$pkg.partial" "$CACHE/$pkg"
done
echo "$CACHE"
