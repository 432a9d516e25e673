#!/usr/bin/env bash
# Builds a minimal Debian bookworm base image with debootstrap and imports it into Docker, for
# machines that reach a Debian mirror but no image registry. The mirror is the one apt on this
# machine already uses.
#
#   scripts/docker-base.sh [IMAGE]      (default music-rag-base:bookworm)
set -euo pipefail
image="${1:-music-rag-base:bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image exists"
  exit 0
fi
command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
}
# The first Debian mirror apt is configured with (deb822 .sources files, then sources.list).
mirror="$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1 | awk '{print $2}')"
if [ -z "$mirror" ]; then
  mirror="$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1 | awk '{print $2}')"
fi
[ -n "$mirror" ] || { echo "no Debian mirror configured for apt" >&2; exit 2; }
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=ca-certificates bookworm "$root" "$mirror" >/dev/null
# What a runtime image never needs: package caches and lists, documentation, locales.
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/* "$root"/usr/share/doc/* \
  "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
tar -C "$root" -c . | docker import - "$image" >/dev/null
echo "$image built from $(basename "$mirror") bookworm ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
