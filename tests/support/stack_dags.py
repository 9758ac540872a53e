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

"""The shipped example DAGs pointed at another ``mlflow`` connection, for the stack's other MLflow
servers: the same file with the connection id given to every hook and operator (and to the model
asset) and the DAG renamed ``<dag_id>_<server>``. Nothing else changes, and every edit must
apply, so an example that changes shape fails here instead of silently testing less."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: The example DAGs the stack tier runs again on each S3-backed MLflow server.
S3_EXAMPLE_DAGS = ("register_model", "promote_on_new_version")
# An operator's `task_id="..."` argument line: the connection id goes right after it.
_TASK_ID_LINE = re.compile(r'^(?P<indent>[ ]+)task_id="[^"]+",$', re.MULTILINE)


def s3_example_dag_id(dag_id: str, conn_id: str) -> str:
    """The id of example DAG ``dag_id`` pointed at connection ``conn_id`` (``mlflow_x``):
    ``<dag_id>_x``."""
    return f"{dag_id}_{conn_id.removeprefix('mlflow_')}"


def retargeted_example_dag(source: Path, conn_id: str) -> str:
    """The text of the example DAG file ``source`` (one DAG, named after its file, built by
    calling the ``@dag`` function at the end) using ``conn_id`` and named
    :func:`s3_example_dag_id`.

    :raises ValueError: naming the file and the edit that found nothing to change.
    """
    dag_id = source.stem
    new_id = s3_example_dag_id(dag_id, conn_id)
    text = source.read_text()
    conn = repr(conn_id)
    for old, new in (
        (f"\ndef {dag_id}() -> None:\n", f"\ndef {new_id}() -> None:\n"),
        (f"\n{dag_id}()\n", f"\n{new_id}()\n"),
    ):
        if text.count(old) != 1:
            raise ValueError(f"{source.name}: expected {old.strip()!r} once")
        text = text.replace(old, new)
    retargeted = 0
    for old, new in (
        ("MlflowRegistryHook()", f"MlflowRegistryHook(mlflow_conn_id={conn})"),
        ('model_asset("mlflow_default",', f"model_asset({conn},"),
    ):
        retargeted += text.count(old)
        text = text.replace(old, new)
    text, operators = _TASK_ID_LINE.subn(
        lambda match: f"{match.group(0)}\n{match.group('indent')}mlflow_conn_id={conn},", text
    )
    if retargeted + operators == 0:
        raise ValueError(f"{source.name}: no hook, operator or model asset to point at {conn}")
    return text
