#!/usr/bin/env bash
# Builds the service image from the release binary built on this machine and the local model
# (the Dockerfile's `prebuilt` target), on the debootstrap base image when no registry is
# reachable. Tags music-rag:VERSION and music-rag:latest and prints the image size.
#
#   scripts/docker-image.sh            (RUNTIME_IMAGE=debian:bookworm-slim to use that base;
#                                        IMAGE_PROFILE=debug packages target/debug's binary,
#                                        as CI does to reuse the test build)
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
runtime="${RUNTIME_IMAGE:-music-rag-base:bookworm}"
[ "$runtime" != music-rag-base:bookworm ] || scripts/docker-base.sh "$runtime"
profile="${IMAGE_PROFILE:-release}"
if [ "$profile" = release ]; then
  cargo build --release --quiet --bin music-rag
else
  cargo build --quiet --bin music-rag
fi
model="${MODEL_DIR:-$PWD/target/model/all-MiniLM-L6-v2}"
sound_model="${SOUND_MODEL_DIR:-$PWD/target/model/musicnn}"
[ -f "$model/model.safetensors" ] && [ -f "$sound_model/mtt_musicnn.safetensors" ] \
  && [ -f "$sound_model/msd_musicnn.safetensors" ] \
  || MODEL_DIR="$model" SOUND_MODEL_DIR="$sound_model" "./target/$profile/music-rag" model fetch
rm -rf target/docker && mkdir -p target/docker/model target/docker/sound-model
strip -o target/docker/music-rag "target/$profile/music-rag"
for f in "$model"/*; do
  case "$(basename "$f")" in README.md|.download) ;; *) cp -r "$f" target/docker/model/ ;; esac
done
cp "$sound_model"/*_musicnn.safetensors target/docker/sound-model/
# The legacy builder's deprecation notice goes to the log; the log is shown on failure.
docker build --quiet --target prebuilt \
  --build-arg RUNTIME_IMAGE="$runtime" --build-arg VERSION="$version" \
  -t "music-rag:$version" -t music-rag:latest . >target/docker-build.log 2>&1 \
  || { cat target/docker-build.log >&2; exit 1; }
size="$(docker image inspect -f '{{.Size}}' "music-rag:$version")"
echo "music-rag:$version built ($profile binary): $((size / 1000000)) MB (binary $(($(stat -c %s target/docker/music-rag) / 1000000)) MB, model $(du -sm target/docker/model | cut -f1) MB)"
