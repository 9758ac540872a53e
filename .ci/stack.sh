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

# A production-like deployment on 127.0.0.1 to evaluate the provider: PostgreSQL, Redis, an
# authenticated MLflow server (several workers, proxied artifacts), two more on S3 endpoints
# (moto; one proxying its artifacts there, one whose clients reach the bucket directly) and
# Airflow with the CeleryExecutor (api-server, scheduler, dag-processor, triggerer, two Celery
# workers).
#
#   bash .ci/stack.sh up     [--dir DIR] [--dags-folder FOLDER]   # prints UI addresses and credentials
#   bash .ci/stack.sh status [--dir DIR]
#   bash .ci/stack.sh down   [--dir DIR]
#
# DIR defaults to .local/stack, FOLDER to example_dags. Needs the postgresql and redis-server
# Debian packages (installed by .ci/bootstrap.sh as root when missing).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash .ci/bootstrap.sh
exec "$ROOT/.venv/bin/python" -m tests.support.stack "$@"
