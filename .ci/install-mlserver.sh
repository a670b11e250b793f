#!/usr/bin/env bash
# Install MLServer (Open Inference Protocol V2 model server, PyPI) into its own virtual
# environment under a cache folder, for the external-runtime tests and bench (its pins conflict
# with constraints.txt: importlib-resources < 7 against our 7.1.0). Pins: .ci/mlserver-constraints.txt.
# Idempotent. Prints the environment's bin folder on its last line.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="$(sed -n 's/^mlserver==\(.*\)$/\1/p' "$root/.ci/mlserver-constraints.txt")"
home="${KAFKAML_MLSERVER_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/kafkaml/mlserver-$version}"
if [ ! -f "$home/.complete" ]; then
  python="${PYTHON:-$root/.venv/bin/python}"
  [ -x "$python" ] || python=python3
  rm -rf "$home"
  "$python" -m venv "$home"
  "$home/bin/pip" install -q "mlserver==$version" onnxruntime \
    -c "$root/.ci/mlserver-constraints.txt" >&2
  touch "$home/.complete"
  echo "install-mlserver: MLServer $version installed into $home" >&2
fi
echo "$home/bin"
