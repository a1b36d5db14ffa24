#!/usr/bin/env bash
# Create (or reuse) the project virtualenv in .venv and install nvs-notif into it.
# Usage: tools/venv.sh [extra]   e.g. tools/venv.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
extra=${1:-}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
    .venv/bin/pip install -q --upgrade pip
fi
spec=.
[ -n "$extra" ] && spec=".[$extra]"
# Reinstall only when the package metadata changed (keeps warm runs fast).
stamp=.venv/.nvs-installed-$extra
if [ ! -f "$stamp" ] || [ setup.cfg -nt "$stamp" ]; then
    # Quiet unless it fails: build back-ends print pages of warnings.
    .venv/bin/pip install -q -e "$spec" >.venv/pip-install.log 2>&1 \
        || { cat .venv/pip-install.log >&2; exit 1; }
    touch "$stamp"
fi
