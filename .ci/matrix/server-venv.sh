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

# Create or reuse the venv of the MLflow server NAME of .ci/matrix/servers.txt and print its
# Python. The venv (.venv-matrix/NAME) holds exactly the pinned set .ci/matrix/NAME.txt and is
# reused while that file and the interpreter are unchanged.
# Usage: bash .ci/matrix/server-venv.sh NAME
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
source "$ROOT/.ci/matrix/venvs.sh"
name="$1"
read -r _ python _ < <(awk -v name="$name" '$1 == name' "$ROOT/.ci/matrix/servers.txt")
if [[ -z "${python:-}" ]]; then
    echo "no MLflow server named $name in .ci/matrix/servers.txt" >&2
    exit 1
fi
venv="$(ensure_venv "$name" "$(find_python "$python")" "$ROOT/.ci/matrix/$name.txt")"
echo "$venv/bin/python"
