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

# Venv helpers of the compatibility matrix, sourced by .ci/matrix.sh and
# .ci/matrix/server-venv.sh (which set ROOT, the checkout). Uses the uv of the main .venv.
UV="$ROOT/.venv/bin/uv"

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

# Create or reuse .venv-matrix/$1 with interpreter $2: exactly the pinned set in file $3, plus
# this checkout (editable, no dependencies) when $4 is "with-checkout". Reused while the
# interpreter, the pinned set (and then pyproject.toml) are unchanged. Prints its directory.
ensure_venv() {
    local name="$1" python="$2" pins="$3" checkout="${4:-}" venv="$ROOT/.venv-matrix/$1" want
    want="$( ("$python" -VV; cat "$pins"
              if [[ -n "$checkout" ]]; then cat "$ROOT/pyproject.toml"; fi) | sha256sum | cut -d' ' -f1)"
    if [[ -x "$venv/bin/python" && -f "$venv/.matrix-stamp" && "$(cat "$venv/.matrix-stamp")" == "$want" ]]; then
        echo "$venv"
        return 0
    fi
    echo ">> $name: building $venv" >&2
    rm -rf "$venv"
    "$UV" venv --quiet --python "$python" "$venv" >&2
    "$UV" pip sync --quiet --python "$venv/bin/python" "$pins" >&2
    if [[ -n "$checkout" ]]; then
        "$UV" pip install --quiet --python "$venv/bin/python" --no-deps --editable "$ROOT" >&2
    fi
    echo "$want" > "$venv/.matrix-stamp"
    echo "$venv"
}
