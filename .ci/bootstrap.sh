#!/usr/bin/env bash
# Create (or refresh) .venv in the checkout with the pinned toolchain from .ci/constraints.txt.
# Idempotent: skips the install when pyproject.toml and the constraints are unchanged.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3}"
UV_VERSION="0.13.8"

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 10):
    sys.exit(f"Python >= 3.10 is required, found {sys.version.split()[0]}; set PYTHON=/path/to/python3.x")
PY

STAMP="$VENV/.bootstrap-stamp"
WANT="$(cat "$ROOT/pyproject.toml" "$ROOT/.ci/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    exit 0
fi

echo ">> bootstrapping $VENV (one-time, about 1-2 minutes)" >&2
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" \
    --constraint "$ROOT/.ci/constraints.txt" --editable "$ROOT[test]"
echo "$WANT" > "$STAMP"
