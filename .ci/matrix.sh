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

# The compatibility matrix: for each entry of .ci/matrix/entries.txt, a venv with exactly the
# pinned set .ci/matrix/<name>.txt (a released Airflow, an mlflow-skinny client, one Python)
# plus this checkout, and the `compat` tests run in it. The MLflow servers those tests start
# come from the main .venv (full mlflow), named by MLFLOW_TEST_SERVER_PYTHON. Then the
# connection form in a browser on the floor entry's Airflow, and the provider against the older
# MLflow servers of .ci/matrix/servers.txt (the `servers` tests).
#
# The canary entries are resolved here, each run, to the newest Airflow and mlflow-skinny (and
# libraries) that pyproject.toml allows: airflow `newest` the newest final release,
# `newest-pre` the newest release pre-releases included (pinned exactly and resolved with
# final libraries, as a pinned pre-release entry is). A summary line names what a canary
# resolved and the date. When its resolved set is a pinned entry's or an earlier canary's
# (same Python), that run stands for it and it is not run twice.
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

# The newest Airflow and mlflow-skinny pyproject.toml allows on Python $1, with the newest
# libraries, resolved now into file $2 (exit code 1 when nothing resolves). With $3 `pre`,
# the newest Airflow pre-releases included: uv's default takes a pre-release only where a
# requirement names one, so that version is found first (without dependencies) and pinned.
resolve_newest() {
    local python="$1" output="$2" airflow_pin=()
    if [[ "${3:-}" == pre ]]; then
        airflow_pin=("$output.airflow")
        "$UV" pip compile --quiet --no-deps --prerelease allow --python-version "$python" \
            pyproject.toml | grep -E '^apache-airflow==' > "${airflow_pin[0]}" || return 1
    fi
    "$UV" pip compile --quiet --python-version "$python" --resolution highest \
        --custom-compile-command "bash .ci/matrix.sh (canary, resolved $(date -u +%F))" \
        --output-file "$output" pyproject.toml .ci/matrix/test-requirements.in "${airflow_pin[@]}"
}

# The `name==version` lines of pin file $1, sorted: the resolved set, without comments.
resolved_set() {
    grep -E '^[A-Za-z0-9].*==' "$1" | sort
}

# `name==version` of package $2 in pin file $1.
pinned() {
    grep -E "^$2==" "$1"
}

failed=()
summary=()
declare -A entry_of_set=() result_of_entry=()
while read -r name python airflow skinny _; do
    if [[ -z "$name" || "$name" == \#* ]]; then continue; fi
    if (($# > 0)) && [[ " $* " != *" $name "* ]]; then continue; fi
    started=$SECONDS
    pins="$ROOT/.ci/matrix/$name.txt"
    label="Airflow $airflow, mlflow-skinny $skinny"
    status=0
    if [[ "$airflow" == newest || "$airflow" == newest-pre ]]; then
        mkdir -p "$ROOT/.venv-matrix"
        pins="$ROOT/.venv-matrix/$name.txt"
        if ! resolve_newest "$python" "$pins" "${airflow#newest-}"; then
            summary+=("$name: FAILED (nothing resolves for Python $python) in $((SECONDS - started)) s")
            failed+=("$name")
            continue
        fi
        label="$airflow on $(date -u +%F): $(pinned "$pins" apache-airflow), $(pinned "$pins" mlflow-skinny)"
    fi
    key="$python $(resolved_set "$pins" | sha256sum | cut -d' ' -f1)"
    same="${entry_of_set[$key]:-}"
    if [[ -n "$same" ]]; then
        echo ">> $name: $label, Python $python: the same set as $same, not run again" >&2
        result="${result_of_entry[$same]} (the run of $same, the same set)"
        [[ "$result" == passed* ]] || failed+=("$name")
        summary+=("$name ($label): $result")
        continue
    fi
    echo ">> $name: $label, Python $python" >&2
    venv="$(ensure_venv "$name" "$(find_python "$python")" "$pins" with-checkout)" &&
        "$venv/bin/python" -m pytest -p no:cacheprovider -m compat -q || status=$?
    result="$( ((status == 0)) && echo passed || echo "FAILED ($status)")"
    entry_of_set[$key]="$name"
    result_of_entry[$name]="$result"
    summary+=("$name ($label): $result in $((SECONDS - started)) s")
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
