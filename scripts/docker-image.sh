#!/usr/bin/env bash
# Builds the service image from the release binary built on this machine and the local model
# (the Dockerfile's `prebuilt` target), on the debootstrap base image when no registry is
# reachable. Tags music-rag:VERSION and music-rag:latest and prints the image size.
#
#   scripts/docker-image.sh            (RUNTIME_IMAGE=debian:bookworm-slim to use that base)
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
runtime="${RUNTIME_IMAGE:-music-rag-base:bookworm}"
[ "$runtime" != music-rag-base:bookworm ] || scripts/docker-base.sh "$runtime"
cargo build --release --quiet --bin music-rag
model="${MODEL_DIR:-$PWD/target/model/all-MiniLM-L6-v2}"
[ -f "$model/model.safetensors" ] || MODEL_DIR="$model" ./target/release/music-rag model fetch
rm -rf target/docker && mkdir -p target/docker/model
strip -o target/docker/music-rag target/release/music-rag
for f in "$model"/*; do
  case "$(basename "$f")" in README.md|.download) ;; *) cp -r "$f" target/docker/model/ ;; esac
done
docker build --quiet --target prebuilt \
  --build-arg RUNTIME_IMAGE="$runtime" --build-arg VERSION="$version" \
  -t "music-rag:$version" -t music-rag:latest . >/dev/null
size="$(docker image inspect -f '{{.Size}}' "music-rag:$version")"
echo "music-rag:$version built: $((size / 1000000)) MB (binary $(($(stat -c %s target/docker/music-rag) / 1000000)) MB, model $(du -sm target/docker/model | cut -f1) MB)"
