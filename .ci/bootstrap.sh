#!/usr/bin/env bash
# Copyright 2026 The airflow-mlflow-registry authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

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

# The stack tier (.ci/stack.sh) needs a PostgreSQL server and Redis, the browser test Debian's
# Chromium (Playwright never downloads a browser here): install the Debian packages when
# missing and we are root (CI is); otherwise say what is missing and go on.
missing=()
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" > /dev/null || missing+=(postgresql)
command -v redis-server > /dev/null || missing+=(redis-server)
command -v chromium > /dev/null || missing+=(chromium)
if (( ${#missing[@]} )); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get > /dev/null; then
        echo ">> installing ${missing[*]} (stack tier, browser test)" >&2
        apt-get update -qq > /dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" > /dev/null
    else
        echo ">> note: ${missing[*]} missing; the stack tier and the browser test need them" >&2
    fi
fi

STAMP="$VENV/.bootstrap-stamp"
# "compile-bytecode" is part of the stamp: a .venv made before the option is made again.
WANT="$( (echo compile-bytecode; cat "$ROOT/pyproject.toml" "$ROOT/.ci/constraints.txt") | sha256sum | cut -d' ' -f1)"
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
    exit 0
fi

echo ">> bootstrapping $VENV (one-time, about 1-2 minutes)" >&2
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
# --compile-bytecode: with PYTHONDONTWRITEBYTECODE=1 (set on these machines) Python never
# writes .pyc files, so without them every process the tests start (mlflow server, the CLI,
# Airflow's services) compiles MLflow and Airflow from source again: `import mlflow,
# airflow.sdk` took 9.0 s that way and 3.6 s with bytecode.
"$VENV/bin/uv" pip install --quiet --compile-bytecode --python "$VENV/bin/python" \
    --constraint "$ROOT/.ci/constraints.txt" --editable "$ROOT[test,docs]"
echo "$WANT" > "$STAMP"
