#!/usr/bin/env bash
# The test command of the README. Extra arguments go to pytest (e.g. -k parser, -x).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export DS_ACCELERATOR=${DS_ACCELERATOR:-cpu}
exec "${VENV:-.venv}/bin/python" -m pytest -q -p no:cacheprovider "$@" tests
