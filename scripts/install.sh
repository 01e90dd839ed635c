#!/usr/bin/env bash
# One command for a fresh machine: creates .venv in the repo and installs Reamo with its exact pins.
#   bash scripts/install.sh            # everything: package, demo, test tools, reference code, espeak-ng, chromium
# Environment: PYTHON (default python3), VENV (default .venv), REAMO_SKIP_APT=1 to skip Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
# Debian packages: espeak-ng (speech fixtures, spoken benchmark sets, the corpus's `--audio sounds`), chromium
# (the demo's browser test)
if [ "${REAMO_SKIP_APT:-0}" != 1 ] && { ! command -v espeak-ng >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; }; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq espeak-ng chromium >/dev/null) \
      || echo "warning: espeak-ng/chromium not installed (speech fixtures and the browser test use them)" >&2
  fi
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade "pip<27"
"$VENV/bin/python" -m pip install -q -c constraints.txt -e ".[dev,demo,export]"
"$VENV/bin/python" -m pip install -q --no-deps -r requirements-reference.txt
"$VENV/bin/python" -c "import reamo, encoders, grounding, training, torch, transformers, peft, deepspeed; print('reamo installed in $VENV with torch', torch.__version__)"
