#!/usr/bin/env bash
# Build the Kafka-ML container images (one per component) from docker/Dockerfile.<component>.
#
#   ./build.sh [--prefix REGISTRY/PATH/] [--tag TAG] [--push] [--gpu] [--dry-run] [COMPONENT...]
#
# Images are named {prefix}kafkaml-{component}:{tag}, the names the KubernetesLauncher and the
# manifests in k8s/ use (KAFKAML_IMAGE_PREFIX / KAFKAML_IMAGE_TAG). Defaults come from the
# environment: KAFKAML_IMAGE_PREFIX (empty), KAFKAML_IMAGE_TAG (latest), DOCKER (docker).
#   --push     push every image after building it
#   --gpu      CUDA builds of the training and inference images, tag suffixed with -gpu
#   --dry-run  print the commands, run nothing (needs no Docker engine)
#   TORCH_INDEX_URL (env): an extra package index with CPU-only torch wheels for small images
set -euo pipefail

COMPONENTS=(backend executor control-logger training-tensorflow training-pytorch inference)
prefix="${KAFKAML_IMAGE_PREFIX:-}"
tag="${KAFKAML_IMAGE_TAG:-latest}"
docker_bin="${DOCKER:-docker}"
push=0
gpu=0
dry_run=0
selected=()

usage() {
    echo "usage: build.sh [--prefix REGISTRY/PATH/] [--tag TAG] [--push] [--gpu] [--dry-run]" \
         "[COMPONENT...]" >&2
    sed -n '6,12p' "$0" | sed 's/^# \{0,1\}//' >&2
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) prefix="${2:?--prefix needs a value}"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --tag) tag="${2:?--tag needs a value}"; shift 2 ;;
        --tag=*) tag="${1#*=}"; shift ;;
        --push) push=1; shift ;;
        --gpu) gpu=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "build.sh: unknown option $1" >&2; usage; exit 2 ;;
        *) selected+=("$1"); shift ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

if [[ ${#selected[@]} -eq 0 ]]; then
    selected=("${COMPONENTS[@]}")
fi
for component in "${selected[@]}"; do
    if [[ ! -f "docker/Dockerfile.$component" ]]; then
        echo "build.sh: no component '$component' (known: ${COMPONENTS[*]})" >&2
        exit 2
    fi
done

pinned() {  # the version requirements.txt pins for a package
    sed -n "s/^$1\(\[[^]]*\]\)\{0,1\}==\([^ ;]*\).*/\2/p" requirements.txt | head -n 1
}

if [[ $gpu -eq 1 ]]; then
    tag="$tag-gpu"
fi

build_args() {
    local component="$1"
    local args=()
    if [[ -n "${TORCH_INDEX_URL:-}" && $gpu -eq 0 ]]; then
        args+=(--build-arg "TORCH_INDEX_URL=$TORCH_INDEX_URL")
    fi
    if [[ $gpu -eq 1 ]]; then
        case "$component" in
            training-tensorflow)
                args+=(--build-arg "TF_PACKAGE=tensorflow[and-cuda]==$(pinned tensorflow-cpu)") ;;
            inference)
                args+=(--build-arg "ONNXRUNTIME_PACKAGE=onnxruntime-gpu") ;;
        esac
    fi
    printf '%s\n' "${args[@]+"${args[@]}"}"
}

run() {
    if [[ $dry_run -eq 1 ]]; then
        printf '%q ' "$@"; echo
    else
        "$@"
    fi
}

if [[ $dry_run -eq 0 ]]; then
    if ! command -v "$docker_bin" >/dev/null 2>&1; then
        echo "build.sh: no Docker engine: '$docker_bin' is not installed (set DOCKER to another" \
             "client, or use --dry-run to see the commands)" >&2
        exit 1
    fi
    if ! "$docker_bin" info >/dev/null 2>&1; then
        echo "build.sh: no Docker engine: '$docker_bin info' cannot reach a daemon" \
             "(start Docker, or set DOCKER_HOST; --dry-run prints the commands)" >&2
        exit 1
    fi
fi

for component in "${selected[@]}"; do
    image="${prefix}kafkaml-${component}:${tag}"
    mapfile -t extra < <(build_args "$component")
    echo "==> $image" >&2
    run "$docker_bin" build -f "docker/Dockerfile.$component" -t "$image" \
        ${extra[@]+"${extra[@]}"} .
    if [[ $push -eq 1 ]]; then
        run "$docker_bin" push "$image"
    fi
done
