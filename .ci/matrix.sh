#!/usr/bin/env bash
# The compatibility matrix: for each entry of .ci/matrix/entries.txt, a venv with exactly the
# pinned set .ci/matrix/<name>.txt (a released Airflow, an mlflow-skinny client, one Python)
# plus this checkout, and the `compat` tests run in it. The MLflow servers those tests start
# come from the main .venv (full mlflow), named by MLFLOW_TEST_SERVER_PYTHON. Then the
# connection form in a browser on the floor entry's Airflow, and the provider against the older
# MLflow servers of .ci/matrix/servers.txt (the `servers` tests).
#
# Venvs live in .venv-matrix/<name> (gitignored) and are reused while their pin file, the
# interpreter and pyproject.toml are unchanged, like .ci/bootstrap.sh does for .venv.
# Usage: bash .ci/matrix.sh [NAME...]   (default: everything; NAME is an entry, or `servers`).
# Exit code 1 if anything fails.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
source "$ROOT/.ci/matrix/venvs.sh"
export MLFLOW_TEST_SERVER_PYTHON="$ROOT/.venv/bin/python"

failed=()
summary=()
while read -r name python airflow skinny _; do
    if [[ -z "$name" || "$name" == \#* ]]; then continue; fi
    if (($# > 0)) && [[ " $* " != *" $name "* ]]; then continue; fi
    started=$SECONDS
    echo ">> $name: Airflow $airflow, mlflow-skinny $skinny, Python $python" >&2
    status=0
    venv="$(ensure_venv "$name" "$(find_python "$python")" with-checkout)" &&
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

# The provider (the main .venv's newest client) against the older MLflow servers of
# .ci/matrix/servers.txt; the test builds their venvs (.ci/matrix/server-venv.sh, cached).
if (($# == 0)) || [[ " $* " == *" servers "* ]]; then
    started=$SECONDS
    echo ">> older MLflow servers" >&2
    status=0
    "$ROOT/.venv/bin/python" -m pytest -p no:cacheprovider -m servers -q \
        tests/integration/test_older_mlflow_servers.py || status=$?
    result="$( ((status == 0)) && echo passed || echo "FAILED ($status)")"
    summary+=("older MLflow servers: $result in $((SECONDS - started)) s")
    ((status == 0)) || failed+=("servers")
fi

echo ">> matrix summary" >&2
printf '   %s\n' "${summary[@]}" >&2
if ((${#summary[@]} == 0)); then
    echo "no matrix entry matched: $*" >&2
    exit 1
fi
((${#failed[@]} == 0))
