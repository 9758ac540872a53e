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

# Resolve and pin each matrix entry of .ci/matrix/entries.txt, and each MLflow server of
# .ci/matrix/servers.txt, into .ci/matrix/<name>.txt. Run after changing an entry, a server or
# the package's dependencies; commit the results.
# Usage: bash .ci/matrix/compile.sh [NAME...]   (default: every entry and server)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MATRIX="$ROOT/.ci/matrix"
bash "$ROOT/.ci/bootstrap.sh"
UV="$ROOT/.venv/bin/uv"

grep -v '^#' "$MATRIX/entries.txt" | while read -r name python airflow skinny resolution as_of; do
    [[ -n "$name" ]] || continue
    if (($# > 0)) && [[ " $* " != *" $name "* ]]; then continue; fi
    # The canary is resolved by .ci/matrix.sh each time it runs, never pinned.
    if [[ "$airflow" == newest* ]]; then continue; fi
    pins="$(mktemp)"
    printf 'apache-airflow==%s\nmlflow-skinny==%s\n' "$airflow" "$skinny" > "$pins"
    # Bounds an Airflow minor needs but does not declare (see the file's comments).
    minor_constraints=()
    if [[ -f "$MATRIX/airflow-${airflow%.*}-constraints.txt" ]]; then
        minor_constraints=(--constraint ".ci/matrix/airflow-${airflow%.*}-constraints.txt")
    fi
    echo ">> $name: Airflow $airflow, mlflow-skinny $skinny, Python $python, $resolution, as of $as_of" >&2
    (cd "$ROOT" && "$UV" pip compile --quiet \
        --python-version "$python" --resolution "$resolution" \
        --exclude-newer "${as_of}T00:00:00Z" \
        --custom-compile-command "bash .ci/matrix/compile.sh $name" \
        --output-file ".ci/matrix/$name.txt" "${minor_constraints[@]}" \
        pyproject.toml .ci/matrix/test-requirements.in "$pins")
    rm -f "$pins"
done

grep -v '^#' "$MATRIX/servers.txt" | while read -r name python mlflow as_of; do
    [[ -n "$name" ]] || continue
    if (($# > 0)) && [[ " $* " != *" $name "* ]]; then continue; fi
    echo ">> $name: mlflow $mlflow (the server), Python $python, as of $as_of" >&2
    (cd "$ROOT" && echo "mlflow==$mlflow" | "$UV" pip compile --quiet \
        --python-version "$python" --exclude-newer "${as_of}T00:00:00Z" \
        --custom-compile-command "bash .ci/matrix/compile.sh $name" \
        --output-file ".ci/matrix/$name.txt" -)
done
