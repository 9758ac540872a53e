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

"""SetModelVersionAliasOperator in real DAG runs (`dag.test()`) against a real `mlflow server`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.operators import SetModelVersionAliasOperator
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.usefixtures("airflow_db")
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def promote(**kwargs: Any) -> dict[str, Any]:
    """Run one SetModelVersionAliasOperator task (task id ``promote``); return its XCom."""
    with DAG(unique("dag_promote"), schedule=None, start_date=START) as dag:
        SetModelVersionAliasOperator(task_id="promote", **kwargs)
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("promote", -1): "success"}
    return xcom_value(dag_run, "promote")


def holder(default_registry: MlflowClient, model: str, alias: str) -> str:
    return default_registry.get_model_version_by_alias(model, alias).version


def test_promotion_by_number_returns_full_record_with_previous_version(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("by-number")
    add_version(default_registry, model, aliases=["production"])
    add_version(default_registry, model)
    record = promote(model_name=model, alias="production", version=2)
    run_id = default_registry.get_model_version(model, "2").run_id
    assert record == {
        "model_name": model,
        "alias": "production",
        "version": "2",
        "previous_version": "1",
        "changed": True,
        "model_uri": f"models:/{model}/2",
        "model_version_url": f"{mlflow_server.url}/#/models/{model}/versions/2",
        "source": f"runs:/{run_id}/model",
        "run_id": run_id,
        "tracking_uri": mlflow_server.url,
    }
    assert holder(default_registry, model, "production") == "2"


def test_promotion_from_alias_points_at_what_staging_points_at(
    default_registry: MlflowClient,
) -> None:
    model = unique("from-alias")
    add_version(default_registry, model)
    add_version(default_registry, model, aliases=["staging"])
    add_version(default_registry, model)
    record = promote(model_name=model, alias="production", from_alias="staging")
    assert (record["version"], record["previous_version"], record["changed"]) == ("2", None, True)
    assert holder(default_registry, model, "production") == "2"


def test_alias_already_at_the_version_sends_no_update_and_reports_unchanged(
    default_registry: MlflowClient, fault_proxy: FaultProxy, use_connection: UseConnection
) -> None:
    model = unique("idempotent")
    add_version(default_registry, model, aliases=["production", "staging"])
    use_connection("mlflow_counted", fault_proxy.url)
    fault_proxy.reset_counts()
    record = promote(
        model_name=model, alias="production", from_alias="staging", mlflow_conn_id="mlflow_counted"
    )
    assert (record["version"], record["previous_version"], record["changed"]) == ("1", "1", False)
    alias_updates = [r for r in fault_proxy.requests_seen if r[1].endswith("/alias")]
    assert alias_updates == []
    assert len(fault_proxy.requests_seen) > 0  # the task did go through the proxy


def test_best_metric_chooses_among_tagged_candidates_only(default_registry: MlflowClient) -> None:
    model = unique("best")
    add_version(default_registry, model, {"accuracy": 0.70}, tags={"candidate": "yes"})
    add_version(default_registry, model, {"accuracy": 0.99}, tags={"candidate": "no"})
    add_version(default_registry, model, {"accuracy": 0.85}, tags={"candidate": "yes"})
    add_version(default_registry, model, {"accuracy": 0.80}, tags={"candidate": "yes"})
    record = promote(
        model_name=model,
        alias="production",
        best_metric="accuracy",
        candidate_tags={"candidate": "yes"},
    )
    assert (record["version"], record["metric"], record["metric_value"]) == ("3", "accuracy", 0.85)
    assert holder(default_registry, model, "production") == "3"


def test_best_metric_min_direction_picks_the_lowest_loss(default_registry: MlflowClient) -> None:
    model = unique("min")
    for loss in (0.3, 0.1, 0.2):
        add_version(default_registry, model, {"loss": loss}, tags={"family": "gbm"})
    record = promote(
        model_name=model,
        alias="champion",
        best_metric="loss",
        metric_direction="min",
        candidate_tags={"family": "gbm"},
    )
    assert (record["version"], record["metric_value"]) == ("2", 0.1)


def test_require_improvement_moves_when_candidate_is_strictly_better(
    default_registry: MlflowClient,
) -> None:
    model = unique("improves")
    add_version(default_registry, model, {"accuracy": 0.80}, aliases=["production"])
    add_version(default_registry, model, {"accuracy": 0.90}, aliases=["staging"])
    record = promote(
        model_name=model,
        alias="production",
        best_metric="accuracy",
        candidate_alias="staging",
        require_improvement=True,
    )
    assert (record["version"], record["previous_version"], record["changed"]) == ("2", "1", True)
    assert (record["metric_value"], record["previous_metric_value"]) == (0.90, 0.80)
    assert holder(default_registry, model, "production") == "2"


@pytest.mark.parametrize("candidate_accuracy", [0.80, 0.75], ids=["equal", "worse"])
def test_require_improvement_skips_without_strict_gain_and_logs_both_values(
    default_registry: MlflowClient, capsys: pytest.CaptureFixture[str], candidate_accuracy: float
) -> None:
    model = unique("no-gain")
    add_version(default_registry, model, {"accuracy": 0.80}, aliases=["production"])
    add_version(default_registry, model, {"accuracy": candidate_accuracy}, aliases=["staging"])
    with DAG(unique("dag_no_gain"), schedule=None, start_date=START) as dag:
        SetModelVersionAliasOperator(
            task_id="promote",
            model_name=model,
            alias="production",
            best_metric="accuracy",
            candidate_alias="staging",
            require_improvement=True,
        )
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("promote", -1): "skipped"}
    assert holder(default_registry, model, "production") == "1"
    # Task logs go to stdout (structlog), not to the logging module.
    lines = [line for line in capsys.readouterr().out.splitlines() if "Improvement check" in line]
    assert len(lines) == 1
    assert f"accuracy={candidate_accuracy}" in lines[0] and "accuracy=0.8" in lines[0]


def test_previous_version_in_xcom_rolls_the_alias_back(default_registry: MlflowClient) -> None:
    model = unique("rollback")
    add_version(default_registry, model, aliases=["production"])
    add_version(default_registry, model, aliases=["staging"])
    with DAG(unique("dag_rollback"), schedule=None, start_date=START) as dag:
        forward = SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="production", from_alias="staging"
        )
        back = SetModelVersionAliasOperator(
            task_id="rollback",
            model_name=model,
            alias="production",
            version="{{ ti.xcom_pull(task_ids='promote')['previous_version'] }}",
        )
        forward >> back
    dag_run = run_dag(dag)
    assert xcom_value(dag_run, "promote")["previous_version"] == "1"
    rolled_back = xcom_value(dag_run, "rollback")
    assert (rolled_back["version"], rolled_back["previous_version"]) == ("1", "2")
    assert holder(default_registry, model, "production") == "1"


def test_missing_from_alias_fails_the_task_naming_alias_and_model(
    default_registry: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    model = unique("no-staging")
    add_version(default_registry, model)
    with DAG(unique("dag_missing"), schedule=None, start_date=START) as dag:
        SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="production", from_alias="staging"
        )
    assert task_states(run_dag(dag)) == {("promote", -1): "failed"}
    assert f"Alias 'staging' of model {model!r} does not exist" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({}, "exactly one of version, from_alias and best_metric"),
        ({"version": 1, "from_alias": "staging"}, "exactly one"),
        ({"version": 0}, "version"),
        ({"version": "two"}, "version"),
        ({"model_name": "a/b", "version": 1}, "model_name"),
        ({"alias": "prod env", "version": 1}, "alias"),
        ({"alias": "latest", "version": 1}, "alias"),
        ({"from_alias": "v3"}, "from_alias"),
        ({"best_metric": "acc", "metric_direction": "up"}, "metric_direction"),
        ({"best_metric": " "}, "best_metric"),
        ({"best_metric": "acc", "candidate_tags": {"k": "it's"}}, "candidate_tags"),
        ({"best_metric": "acc", "candidate_alias": "bad alias"}, "candidate_alias"),
        ({"version": 1, "require_improvement": True}, "need best_metric"),
        ({"version": 1, "candidate_tags": {"k": "v"}}, "need best_metric"),
        ({"version": 1, "emit_asset": True, "model_name": "{{ params.m }}"}, "emit_asset"),
    ],
)
def test_bad_arguments_fail_at_dag_parse_naming_the_argument(
    kwargs: dict[str, Any], argument: str
) -> None:
    arguments = {"task_id": "promote", "model_name": "m", "alias": "production", **kwargs}
    with pytest.raises(ValueError, match=argument):
        SetModelVersionAliasOperator(**arguments)
