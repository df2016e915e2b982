#!/usr/bin/env bash
# make test-containers: build the qtrain images for real and run the tiny DAG in them.
#
#   1. installs what it needs (Debian docker.io and debootstrap; the docker Python package
#      comes with the dev extra);
#   2. starts its own Docker engine (no bridge, no iptables: nothing here needs a network),
#      stopped when this script ends, whatever happens;
#   3. builds a Debian bookworm base with debootstrap (python3, venv, gcc) and imports it;
#   4. fills images/wheelhouse/ with every wheel the images install, then builds both
#      Dockerfiles on that base with the network off (the train image with the CPU torch wheel
#      and unsloth's CPU install: the CUDA wheels cannot be built or run here);
#   5. runs tests/containers: the tiny 2-cycle DAG under kfp.local.DockerRunner, network off,
#      as uid 1000, with a trial that diverges; every executor output parsed as strict JSON.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
STATE=$PWD/.tools/containers
BASE_TAG=qtrain-debian-base:bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$STATE"
started=$(date +%s)
say() { echo "[test-containers $(( $(date +%s) - started ))s] $*"; }

need=""
command -v dockerd >/dev/null 2>&1 || need="$need docker.io"
command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
if [ -n "$need" ]; then
  say "installing$need"
  apt-get update -qq && apt-get install -y -qq $need >/dev/null
fi

# Our own engine. Its sockets live in a short /tmp path (a unix socket path has 108 bytes).
RUNDIR=$(mktemp -d /tmp/qtd.XXXXXX)
export DOCKER_HOST=unix://$RUNDIR/docker.sock
dockerd --bridge=none --iptables=false --ip-masq=false --host "$DOCKER_HOST" \
  --data-root "$STATE/data" --exec-root "$RUNDIR/exec" --pidfile "$RUNDIR/docker.pid" \
  >"$STATE/dockerd.log" 2>&1 &
DOCKERD=$!
stop_engine() {
  kill "$DOCKERD" 2>/dev/null || true
  wait "$DOCKERD" 2>/dev/null || true
  rm -rf "$RUNDIR"
}
trap stop_engine EXIT
for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
docker info >/dev/null || { tail -20 "$STATE/dockerd.log"; exit 1; }
say "engine up ($(docker version --format '{{.Server.Version}}'))"

if ! docker image inspect "$BASE_TAG" >/dev/null 2>&1; then
  rootfs=$STATE/bookworm-rootfs.tar
  if [ ! -f "$rootfs" ]; then
    say "debootstrap bookworm (minbase + python3, venv, gcc)"
    tree=$(mktemp -d /tmp/qtrain-rootfs.XXXXXX)
    debootstrap --variant=minbase \
      --include=python3,python3-venv,ca-certificates,gcc,libc6-dev bookworm "$tree" "$MIRROR" \
      >"$STATE/debootstrap.log" 2>&1 || { tail -20 "$STATE/debootstrap.log"; exit 1; }
    tar -C "$tree" -cf "$rootfs.part" . && mv "$rootfs.part" "$rootfs"
    rm -rf "$tree"
  fi
  docker import "$rootfs" "$BASE_TAG" >/dev/null
fi
say "base image $BASE_TAG"

WHEELHOUSE=images/wheelhouse
say "wheelhouse"
"$BIN/pip" wheel -q -w "$WHEELHOUSE" "torch==2.13.0" ".[kfp,azure]" hatchling protobuf sentencepiece
"$BIN/pip" download -q -d "$WHEELHOUSE" --no-deps "unsloth==2026.10.9" "unsloth_zoo==2026.10.9"
rm -f "$WHEELHOUSE"/qtrain-*

BASE_IMAGE=$("$BIN/python" -c 'from qtrain.images import base_image; print(base_image())')
TRAIN_IMAGE=$("$BIN/python" -c 'from qtrain.images import train_image; print(train_image())')
OFFLINE=(--network none --build-arg "BASE_IMAGE=$BASE_TAG"
         --build-arg "PIP_OPTIONS=--no-index --find-links /wheelhouse")
say "building $BASE_IMAGE"
docker build -q "${OFFLINE[@]}" -f images/base/Dockerfile -t "$BASE_IMAGE" . >/dev/null
say "building $TRAIN_IMAGE (CPU torch, unsloth CPU install)"
docker build -q "${OFFLINE[@]}" --build-arg TORCH_PACKAGES=torch==2.13.0 \
  --build-arg UNSLOTH=cpu -f images/train/Dockerfile -t "$TRAIN_IMAGE" . >/dev/null
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep qtrain

say "the tiny DAG in containers"
QTRAIN_CONTAINERS=1 "$BIN/python" -m pytest -q -p no:cacheprovider tests/containers
say "done"
