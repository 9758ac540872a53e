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

"""The ``stack`` tier (marker ``stack``, set by each module; ``bash .ci/stack-tests.sh``):
tests against the production-like deployment of ``.ci/stack.sh``, started once for the
session (1-4 minutes on two cores) and stopped at its end, whatever the outcome. Its DAGs
folder holds the shipped example DAGs, unchanged, beside the tier's own DAGs in
``tests/stack/dags`` and, for each S3-backed MLflow server, the train-register-promote examples
pointed at that server's connection (``tests.support.stack_dags``).

``STACK_DIR`` (set by ``.ci/stack-tests.sh``) names the stack's directory, so the script can
stop the stack even if pytest itself is killed. If a stack is already running there (started
by hand with ``bash .ci/stack.sh up --dir $STACK_DIR --dags-folder $STACK_DIR-dags`` on a
folder holding the same DAGs), the tests use it and leave it running."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.stack import REPO_ROOT, S3_STORES, STATE_FILE
from tests.support.stack_api import StackApi
from tests.support.stack_dags import S3_EXAMPLE_DAGS, retargeted_example_dag, s3_example_dag_id

if TYPE_CHECKING:
    from collections.abc import Iterator

STACK_DAGS = Path(__file__).resolve().parent / "dags"


@pytest.fixture(scope="session")
def stack() -> Iterator[StackApi]:
    """A running stack (``bash .ci/stack.sh up``), stopped with ``down`` after the session."""
    root = Path(os.environ.get("STACK_DIR") or tempfile.mkdtemp(prefix="stack-"))
    if (root / STATE_FILE).exists():
        yield StackApi(root)
        return
    dags_folder = root.parent / f"{root.name}-dags"
    dags_folder.mkdir(parents=True, exist_ok=True)
    for source in (REPO_ROOT / "example_dags", STACK_DAGS):
        for dag_file in source.glob("*.py"):
            shutil.copy(dag_file, dags_folder)
    for server in S3_STORES:
        for dag_id in S3_EXAMPLE_DAGS:
            text = retargeted_example_dag(REPO_ROOT / "example_dags" / f"{dag_id}.py", server)
            (dags_folder / f"{s3_example_dag_id(dag_id, server)}.py").write_text(text)
    root.mkdir(parents=True, exist_ok=True)
    script = REPO_ROOT / ".ci" / "stack.sh"
    up = ["bash", str(script), "up", "--dir", str(root), "--dags-folder", str(dags_folder)]
    try:
        result = subprocess.run(up, capture_output=True, text=True, timeout=900, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"stack.sh up failed:\n{result.stderr[-6000:]}")
        print(result.stdout)
        yield StackApi(root)
    finally:
        subprocess.run(["bash", str(script), "down", "--dir", str(root)], timeout=300, check=False)
        shutil.rmtree(dags_folder, ignore_errors=True)
