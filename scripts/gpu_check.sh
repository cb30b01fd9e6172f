#!/usr/bin/env bash
# The GPU check: everything gan-lab can only learn on a GPU (mixed precision on the device, the image and
# batched-seed benchmarks, chapter 6's training at the full budget), in about 8 minutes on one GPU, as one
# JSON summary ($OUT/gpu_check.json when OUT is set, else _build/gpu_check.json). See scripts/gpu_check.py.
#
#   bash scripts/gpu_check.sh            on a machine with CUDA and torch installed
#   bash scripts/gpu_check.sh --dry-run  the same steps on the CPU at toy sizes
#
# It needs torch, numpy and tqdm (what a GPU image with torch has); gan_lab is used from this checkout.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
    if [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import torch' 2>/dev/null; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" scripts/gpu_check.py "$@"
