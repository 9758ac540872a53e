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

"""OpenLineage facets of a task that really ran: the openlineage provider's listener emits the
events through its file transport, and the test reads what it wrote (not a record set by hand).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from pathlib import Path

    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

# A DAG run in a fresh process (Airflow and MLflow imported again): too slow for the default tier.
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("airflow_db")]

# The DAG run, in its own process: the listener builds its transport once per process, from
# AIRFLOW__OPENLINEAGE__TRANSPORT; the connection comes from the environment.
RUN_PROMOTION = textwrap.dedent(
    """
    import sys

    import pendulum
    from airflow.sdk import DAG

    from airflow_mlflow_registry.operators import SetModelVersionAliasOperator
    from tests.support.dag_runs import run_dag, task_states

    model, dag_id = sys.argv[1], sys.argv[2]
    with DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")) as dag:
        SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="production", from_alias="staging"
        )
    print(task_states(run_dag(dag)))
    """
)


def test_a_promotion_task_emits_openlineage_events_naming_the_version_and_its_source(
    default_registry: MlflowClient,
    mlflow_server: MlflowServer,
    airflow_env: dict[str, str],
    tmp_path: Path,
) -> None:
    pytest.importorskip("airflow.providers.openlineage")
    model, dag_id = unique("emitted"), unique("dag_lineage")
    add_version(default_registry, model, aliases=["staging"])
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        **airflow_env,
        connection_env_var("mlflow_default"): connection_json(mlflow_server.url),
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", RUN_PROMOTION, model, dag_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "'success'" in done.stdout, done.stdout[-3000:]
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    (complete,) = [
        event
        for event in events
        if event["eventType"] == "COMPLETE" and event["job"]["name"] == f"{dag_id}.promote"
    ]
    source = default_registry.get_model_version(model, "1").source
    namespace = f"mlflow://{mlflow_server.url.removeprefix('http://')}"
    assert [(d["namespace"], d["name"]) for d in complete["outputs"]] == [(namespace, f"{model}/1")]
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [(namespace, source)]
