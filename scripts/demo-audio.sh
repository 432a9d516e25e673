#!/usr/bin/env bash
# A demo library you can hear: freely licensed game soundtracks from ten Debian packages
# (downloaded without installing them), copied with each package's copyright file into
# DATA_DIR/library/<album>/, one album per package (album, album artist and track number set;
# title, artist and genre kept, filled in from the file name and package where missing;
# vorbiscomment for OGG, lame for MP3), with the
# package's title image as album art where it ships one, then scanned into the library.
#   scripts/demo-audio.sh [DATA_DIR]      (default: $MUSIC_RAG_DATA_DIR or ./data)
# Serve it with: music-rag --data-dir DATA_DIR serve --music-folder DATA_DIR/library
# Licences: catalog/README.md ("Audio for the demo"). Needs vorbis-tools and lame.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${1:-${MUSIC_RAG_DATA_DIR:-./data}}
BIN=${MUSIC_RAG_BIN:-./target/release/music-rag}
for tool in vorbiscomment lame; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (Debian: vorbis-tools, lame)" >&2; exit 2; }
done
if [ ! -x "$BIN" ]; then
  cargo build --release --quiet --bin music-rag
fi
# package | album | album artist | genre | where its music is (a path pattern) | album art
ALBUMS=$(cat <<'EOF'
wesnoth-1.16-music|The Battle for Wesnoth OST|Wesnoth Project|Soundtrack|/music/||
singularity-music|Endgame: Singularity Original Soundtrack|Max McCracken|Soundtrack|/music/||
asc-music|Advanced Strategic Command|Michael Kievernagel|Soundtrack|/music/||
supertux-data|SuperTux|SuperTux Team|Soundtrack|/music/|usr/share/games/supertux2/images/engine/menu/logo.png
supertuxkart-data|SuperTuxKart|SuperTuxKart Team|Soundtrack|/music/|usr/share/games/supertuxkart/data/gui/icons/logo.png
hedgewars-data|Hedgewars|Hedgewars Project|Soundtrack|/Music/|usr/share/games/hedgewars/Data/Themes/Nature/Sky.png
freedroidrpg-data|FreedroidRPG|FreedroidRPG Team|Soundtrack|/music/|usr/share/freedroidrpg/data/graphics/backgrounds/title.jpg
extremetuxracer-data|Extreme Tux Racer|Extreme Tux Racer Team|Soundtrack|/music/|usr/share/games/etr/resources/gui/splash.png
megaglest-data|MegaGlest|MegaGlest Team|Soundtrack|/music/|usr/share/games/megaglest/data/core/menu/textures/logo1.png
openclonk-data|OpenClonk|OpenClonk Team|Soundtrack|/Music.ocg/|
lincity-ng-data|LinCity-NG|LinCity-NG Team|Soundtrack|/music/|
EOF
)
packages=$(echo "$ALBUMS" | cut -d'|' -f1 | tr '\n' ' ')
echo "fetching the soundtracks of: $packages"
cache=$(bench/audio/fetch_debian_music.sh $packages)
library="$DATA_DIR/library"
mkdir -p "$library"

# "03_-_the_long_road" -> "03 - The Long Road"
title_of() {
  local stem
  stem=$(basename "$1")
  stem=${stem%.*}
  echo "$stem" | tr '_' ' ' | sed -E 's/  +/ /g; s/(^| )([a-z])/\1\u\2/g'
}

while IFS='|' read -r pkg album artist genre pattern art; do
  [ -n "$pkg" ] || continue
  dest="$library/$album"
  mkdir -p "$dest"
  cp "$cache/$pkg/usr/share/doc/$pkg/copyright" "$dest/COPYRIGHT"
  if [ -n "$art" ] && [ -f "$cache/$pkg/$art" ]; then
    cp "$cache/$pkg/$art" "$dest/cover.${art##*.}"
  fi
  n=0
  while IFS= read -r src; do
    n=$((n + 1))
    name=$(basename "$src")
    out="$dest/$name"
    [ -f "$out" ] && continue
    case "$name" in
      *.ogg)
        cp "$src" "$out"
        # Each package is one album: its album and album artist replace what the files say
        # (their own album tags differ file by file); titles, artists and the rest are kept,
        # and filled in where missing.
        have=$(vorbiscomment -l "$out" 2>/dev/null | grep -v -E '^(ALBUM|ALBUMARTIST|TRACKNUMBER|DISCNUMBER)=' || true)
        {
          [ -n "$have" ] && echo "$have"
          echo "ALBUM=$album"
          echo "ALBUMARTIST=$artist"
          echo "TRACKNUMBER=$n"
          grep -q '^TITLE=' <<<"$have" || echo "TITLE=$(title_of "$name")"
          grep -q '^ARTIST=' <<<"$have" || echo "ARTIST=$artist"
          grep -q '^GENRE=' <<<"$have" || echo "GENRE=$genre"
        } > "$out.tags"
        vorbiscomment -w -c "$out.tags" "$out"
        rm -f "$out.tags"
        ;;
      *.mp3)
        # lame tags while it copies the stream (decoded and encoded again at 192 kbit/s).
        lame --silent --mp3input -b 192 --id3v2-only --tt "$(title_of "$name")" --ta "$artist" \
          --tl "$album" --tn "$n" --tg "$genre" "$src" "$out"
        ;;
    esac
  done < <(find "$cache/$pkg" -type f \( -iname '*.ogg' -o -iname '*.mp3' \) | grep -- "$pattern" | grep -v '/sounds/' | sort)
  echo "  $album: $n tracks"
done <<<"$ALBUMS"

"$BIN" --data-dir "$DATA_DIR" scan "$library"
echo "done: run \`$BIN --data-dir $DATA_DIR serve --music-folder $library\` and open http://127.0.0.1:8000/"
