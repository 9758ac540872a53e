#!/usr/bin/env bash
# The compatibility matrix: for each entry of .ci/matrix/entries.txt, a venv with exactly the
# pinned set .ci/matrix/<name>.txt (a released Airflow, an mlflow-skinny client, one Python)
# plus this checkout, and the `compat` tests run in it. The MLflow servers those tests start
# come from the main .venv (full mlflow), named by MLFLOW_TEST_SERVER_PYTHON.
#
# Venvs live in .venv-matrix/<name> (gitignored) and are reused while their pin file, the
# interpreter and pyproject.toml are unchanged, like .ci/bootstrap.sh does for .venv.
# Usage: bash .ci/matrix.sh [NAME...]   (default: every entry). Exit code 1 if any entry fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
UV="$ROOT/.venv/bin/uv"
export MLFLOW_TEST_SERVER_PYTHON="$ROOT/.venv/bin/python"

# The newest installed interpreter of Python minor $1 (on PATH, else from pyenv).
find_python() {
    local minor="$1" candidate
    for candidate in "python$minor" "$(pyenv root 2>/dev/null)"/versions/"$minor".*/bin/"python$minor"; do
        if "$candidate" -c 'import sys' >/dev/null 2>&1; then
            command -v "$candidate"
            return 0
        fi
    done
    echo "no Python $minor interpreter found (on PATH or through pyenv)" >&2
    return 1
}

# Create or reuse the venv of entry $1 with interpreter $2; prints its directory.
ensure_venv() {
    local name="$1" python="$2" venv="$ROOT/.venv-matrix/$1" want
    want="$( ("$python" -VV; cat "$ROOT/.ci/matrix/$name.txt" "$ROOT/pyproject.toml") | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$venv/.matrix-stamp" && "$(cat "$venv/.matrix-stamp")" == "$want" ]]; then
        echo "$venv"
        return 0
    fi
    echo ">> $name: building $venv" >&2
    rm -rf "$venv"
    "$UV" venv --quiet --python "$python" "$venv" >&2
    "$UV" pip sync --quiet --python "$venv/bin/python" "$ROOT/.ci/matrix/$name.txt" >&2
    "$UV" pip install --quiet --python "$venv/bin/python" --no-deps --editable "$ROOT" >&2
    echo "$want" > "$venv/.matrix-stamp"
    echo "$venv"
}

failed=()
summary=()
while read -r name python airflow skinny _; do
    if [[ -z "$name" || "$name" == \#* ]]; then continue; fi
    if (($# > 0)) && [[ " $* " != *" $name "* ]]; then continue; fi
    started=$SECONDS
    echo ">> $name: Airflow $airflow, mlflow-skinny $skinny, Python $python" >&2
    status=0
    venv="$(ensure_venv "$name" "$(find_python "$python")")" &&
        "$venv/bin/python" -m pytest -p no:cacheprovider -m compat -q || status=$?
    result="$( ((status == 0)) && echo passed || echo "FAILED ($status)")"
    summary+=("$name: $result in $((SECONDS - started)) s")
    ((status == 0)) || failed+=("$name")
done < "$ROOT/.ci/matrix/entries.txt"

# The connection form in headless Chromium on the floor entry's Airflow (the default suite
# covers the newest): the test runs from the main .venv and starts that venv's api-server.
floor="$(awk '!/^#/ && $5 == "lowest-direct" { print $1; exit }' "$ROOT/.ci/matrix/entries.txt")"
if [[ -x "$ROOT/.venv-matrix/$floor/bin/python" ]] && { (($# == 0)) || [[ " $* " == *" $floor "* ]]; }; then
    started=$SECONDS
    echo ">> $floor: connection form in a browser" >&2
    status=0
    BROWSER_TEST_AIRFLOW_PYTHONS="$ROOT/.venv-matrix/$floor/bin/python" \
        "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider -m browser -q \
        tests/integration/test_connection_form_browser.py || status=$?
    result="$( ((status == 0)) && echo passed || echo "FAILED ($status)")"
    summary+=("$floor browser: $result in $((SECONDS - started)) s")
    ((status == 0)) || failed+=("$floor browser")
fi

echo ">> matrix summary" >&2
printf '   %s\n' "${summary[@]}" >&2
if ((${#summary[@]} == 0)); then
    echo "no matrix entry matched: $*" >&2
    exit 1
fi
((${#failed[@]} == 0))
