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

"""What the operators show besides their XCom, in real DAG runs (`dag.test()`) against a real
`mlflow server`: the "MLflow model version" extra link, the model's asset and its events,
and OpenLineage datasets."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG, Asset

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.operators import (
    RegisterModelVersionOperator,
    SetModelVersionAliasOperator,
)
from airflow_mlflow_registry.utils.openlineage_facets import source_dataset_name
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from airflow.models.dagrun import DagRun
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

    ToOpenLineage = Callable[[Asset, Any], Any]

pytestmark = pytest.mark.usefixtures("airflow_db")
START = pendulum.datetime(2026, 1, 1, tz="UTC")
LINK_NAME = "MLflow model version"


@pytest.fixture
def to_openlineage() -> ToOpenLineage:
    """``assets.model_asset_to_openlineage``, the converter the openlineage provider calls for a
    model asset; the test is skipped where that provider is not installed."""
    pytest.importorskip("airflow.providers.openlineage")
    from airflow_mlflow_registry.assets import model_asset_to_openlineage

    return model_asset_to_openlineage


def extra_links(dag_run: DagRun, task_id: str) -> dict[str, str | None]:
    """The task instance's extra links as the API server computes them: from the serialized
    DAG in the metadata DB, reading what the worker stored."""
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        serialized = SerializedDagModel.get_dag(dag_run.dag_id, session=session)
        assert serialized is not None
        task = serialized.get_task(task_id)
        ti = dag_run.get_task_instance(task_id, session=session)
        assert ti is not None
        return {name: task.get_extra_links(ti, name) or None for name in task.extra_links}


def asset_events(asset: Asset, dag_run: DagRun) -> list[dict[str, Any]]:
    """``extra`` of each event recorded in the metadata DB for ``asset`` by ``dag_run``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == asset.uri, AssetEvent.source_run_id == dag_run.run_id)
            .all()
        )
        return [dict(row.extra) for row in rows]


# ------------------------------------------------------------------------- provider info


def test_airflow_discovers_the_link_asset_handler_and_lineage_converter() -> None:
    from airflow.providers_manager import ProvidersManager

    from airflow_mlflow_registry.assets import (
        model_asset_to_openlineage,
        normalize_model_asset_uri,
    )

    manager = ProvidersManager()
    assert (
        "airflow_mlflow_registry.links.mlflow.MlflowModelVersionLink"
        in manager.extra_links_class_names
    )
    assert manager.asset_uri_handlers["mlflow"] is normalize_model_asset_uri
    assert manager.asset_to_openlineage_converters["mlflow"] is model_asset_to_openlineage


# ------------------------------------------------------------------------------- extra link


def test_link_opens_the_registered_version_page(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("link")
    with DAG(unique("dag_link"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register", model_name=model, model_uri="s3://bucket/link"
        )
    dag_run = run_dag(dag)
    assert extra_links(dag_run, "register") == {
        LINK_NAME: f"{mlflow_server.url}/#/models/{model}/versions/1"
    }


def test_link_opens_the_promoted_version_page_and_is_absent_after_a_skip(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("link-promote")
    add_version(default_registry, model, {"accuracy": 0.9}, aliases=["production"])
    add_version(default_registry, model, {"accuracy": 0.8}, aliases=["staging"])
    with DAG(unique("dag_link_promote"), schedule=None, start_date=START) as dag:
        SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="candidate", version=2
        )
        SetModelVersionAliasOperator(
            task_id="no_gain",
            model_name=model,
            alias="production",
            best_metric="accuracy",
            candidate_alias="staging",
            require_improvement=True,
        )
    dag_run = run_dag(dag)
    assert task_states(dag_run)[("no_gain", -1)] == "skipped"
    assert extra_links(dag_run, "promote") == {
        LINK_NAME: f"{mlflow_server.url}/#/models/{model}/versions/2"
    }
    assert extra_links(dag_run, "no_gain") == {LINK_NAME: None}


def test_no_link_for_a_tracking_store_without_a_web_server(
    use_connection: UseConnection, tmp_path: Path
) -> None:
    use_connection("mlflow_local", f"sqlite:///{tmp_path}/mlflow.db")
    with DAG(unique("dag_local_link"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=unique("local"),
            model_uri="s3://bucket/local",
            mlflow_conn_id="mlflow_local",
        )
    dag_run = run_dag(dag)
    assert xcom_value(dag_run, "register")["model_version_url"] is None
    assert extra_links(dag_run, "register") == {LINK_NAME: None}


# ---------------------------------------------------------------------------------- assets


def test_model_asset_of_a_connection_names_it_without_reading_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No connection named here is defined anywhere, and every connection look-up fails the
    test: the asset is built from the connection id alone (DAG parsing reads no connection)."""
    from airflow_mlflow_registry.version_compat import BaseHook

    def no_lookup(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"connection looked up: {args} {kwargs}")

    monkeypatch.setattr(BaseHook, "get_connection", no_lookup)
    by_conn = model_asset("Mlflow_Team-A", "churn model")
    assert by_conn.uri == "mlflow://airflow_connection/Mlflow_Team-A/churn%20model"
    assert Asset("mlflow://Airflow_Connection/Mlflow_Team-A/churn model/").uri == by_conn.uri
    assert (
        model_asset("mlflow(prod)#1", "m").uri
        == "mlflow://airflow_connection/mlflow%28prod%29%231/m"
    )
    # Connection ids are case-sensitive in Airflow, so the case of the id is kept.
    assert model_asset("mlflow_prod", "m") != model_asset("MLFLOW_PROD", "m")
    with pytest.raises(ValueError, match="<conn-id>/<model-name>"):
        Asset("mlflow://airflow_connection/m")
    with pytest.raises(ValueError, match="<conn-id>/<model-name>"):
        Asset("mlflow://airflow_connection/a/b/m")


def test_asset_uris_are_normalised_by_the_registered_handler() -> None:
    assert Asset("mlflow://MLflow.Example.COM:5000/churn model/").uri == (
        "mlflow://mlflow.example.com:5000/churn%20model"
    )
    assert Asset("mlflow://mlflow.example.com:5000/churn%20model").uri == (
        "mlflow://mlflow.example.com:5000/churn%20model"
    )
    assert model_asset("sqlite:////srv/mlflow.db", "m").uri == "mlflow://local/m"
    assert model_asset("https://ADB-1.2.azuredatabricks.net/", "m").uri == (
        "mlflow://adb-1.2.azuredatabricks.net/m"
    )
    assert Asset("mlflow://Host/Team-A/churn model/").uri == "mlflow://host/Team-A/churn%20model"
    with pytest.raises(ValueError, match="mlflow://<tracking-host>/<model-name>"):
        Asset("mlflow://host/")


def test_servers_under_one_host_with_different_path_prefixes_are_different_assets() -> None:
    team_a = model_asset("https://mlflow.example.com/team-a/", "churn")
    team_b = model_asset("https://mlflow.example.com/team-b", "churn")
    assert team_a.uri == "mlflow://mlflow.example.com/team-a/churn"
    assert team_b.uri == "mlflow://mlflow.example.com/team-b/churn"
    assert model_asset("mlflow.example.com/team-a", "churn") == team_a


def test_registration_with_emit_asset_records_an_event_with_the_version(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("asset")
    add_version(default_registry, model)
    run_id = default_registry.get_model_version(model, "1").run_id
    with DAG(unique("dag_asset"), schedule=None, start_date=START) as dag:
        register = RegisterModelVersionOperator(
            task_id="register",
            model_name=model,
            model_uri=f"runs:/{run_id}/model",
            aliases=["staging", "candidate"],
            emit_asset=True,
        )
    asset = model_asset("mlflow_default", model)
    assert register.outlets == [asset]  # declared when the DAG is parsed
    dag_run = run_dag(dag)
    assert asset_events(asset, dag_run) == [
        {
            "version": "2",
            "alias": "staging",
            "run_id": run_id,
            "model_uri": f"models:/{model}/2",
        }
    ]


def promotion_with_emit_asset(default_registry: MlflowClient, model: str) -> DAG:
    """A DAG whose task ``promote`` points ``production`` at what ``staging`` holds, with
    ``emit_asset``; ``model`` gets one version, which ``staging`` points at."""
    add_version(default_registry, model, aliases=["staging"])
    with DAG(unique("dag_asset_promote"), schedule=None, start_date=START) as dag:
        SetModelVersionAliasOperator(
            task_id="promote",
            model_name=model,
            alias="production",
            from_alias="staging",
            emit_asset=True,
        )
    return dag


def test_promotion_with_emit_asset_records_the_alias_it_moved(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("asset-promote")
    dag_run = run_dag(promotion_with_emit_asset(default_registry, model))
    [event] = asset_events(model_asset("mlflow_default", model), dag_run)
    assert (event["version"], event["alias"], event["model_uri"]) == (
        "1",
        "production",
        f"models:/{model}/1",
    )
    assert event["run_id"] == default_registry.get_model_version(model, "1").run_id


def all_asset_events(asset: Asset) -> list[dict[str, Any]]:
    """``extra`` of every event recorded in the metadata DB for ``asset``, oldest first."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == asset.uri)
            .order_by(AssetEvent.id)
            .all()
        )
        return [dict(row.extra) for row in rows]


def test_rerun_of_a_registration_records_an_asset_event_only_when_an_alias_moves_back(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    """dag.test() with the same logical date and run-after date re-runs the same task
    instance (same run id): the registration is found (`created: false`)."""
    model = unique("asset-rerun")
    add_version(default_registry, model)
    run_id = default_registry.get_model_version(model, "1").run_id
    with DAG(unique("dag_asset_rerun"), schedule=None, start_date=START) as dag:
        RegisterModelVersionOperator(
            task_id="register",
            model_name=model,
            model_uri=f"runs:/{run_id}/model",
            aliases=["staging"],
            emit_asset=True,
        )
    asset = model_asset("mlflow_default", model)
    same_run = {"logical_date": pendulum.now("UTC").start_of("second")}
    same_run["run_after"] = same_run["logical_date"]

    first_run = run_dag(dag, **same_run)
    first = xcom_value(first_run, "register")
    assert (first["version"], first["created"]) == ("2", True)
    assert [event["version"] for event in all_asset_events(asset)] == ["2"]

    rerun = run_dag(dag, **same_run)
    assert rerun.run_id == first_run.run_id  # the same task instance, run again
    assert task_states(rerun) == {("register", -1): "success"}
    assert xcom_value(rerun, "register")["created"] is False
    assert [event["version"] for event in all_asset_events(asset)] == ["2"]  # nothing new

    default_registry.set_registered_model_alias(model, "staging", "1")
    moved_back = xcom_value(run_dag(dag, **same_run), "register")
    assert moved_back["created"] is False
    assert default_registry.get_model_version_by_alias(model, "staging").version == "2"
    assert [(e["version"], e["alias"]) for e in all_asset_events(asset)] == [
        ("2", "staging"),
        ("2", "staging"),
    ]


def test_promotion_that_leaves_the_alias_in_place_records_no_asset_event(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("asset-unchanged")
    dag = promotion_with_emit_asset(default_registry, model)
    asset = model_asset("mlflow_default", model)
    assert xcom_value(run_dag(dag), "promote")["changed"] is True
    assert len(all_asset_events(asset)) == 1
    second = run_dag(dag)
    assert task_states(second) == {("promote", -1): "success"}
    assert xcom_value(second, "promote")["changed"] is False
    assert len(all_asset_events(asset)) == 1  # no event: the alias did not move


# ----------------------------------------------------------------------------- OpenLineage


def promoted_operator(default_registry: MlflowClient, model: str) -> tuple[Any, DagRun]:
    """An operator that has run, and its DAG run: the run's real record is published on the
    operator as its ``execute`` does (dag.test() runs a copy of the task)."""
    add_version(default_registry, model, aliases=["staging"])
    with DAG(unique("dag_lineage"), schedule=None, start_date=START) as dag:
        operator = SetModelVersionAliasOperator(
            task_id="promote", model_name=model, alias="production", from_alias="staging"
        )
    dag_run = run_dag(dag)
    operator.published_record = xcom_value(dag_run, "promote")
    return operator, dag_run


def test_openlineage_extraction_names_the_version_and_its_source(
    default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    """Through the openlineage provider's ExtractorManager, as its listener calls it."""
    pytest.importorskip("airflow.providers.openlineage")
    from airflow.providers.openlineage.extractors.manager import ExtractorManager
    from airflow.utils.state import TaskInstanceState

    model = unique("lineage")
    operator, dag_run = promoted_operator(default_registry, model)
    lineage = ExtractorManager().extract_metadata(
        dagrun=dag_run,
        task=operator,
        task_instance_state=TaskInstanceState.SUCCESS,
        task_instance=dag_run.get_task_instance("promote"),
    )
    source = operator.published_record["source"]
    assert source.startswith("runs:/")
    namespace = f"mlflow://{mlflow_server.url.removeprefix('http://')}"
    assert [(d.namespace, d.name) for d in lineage.outputs] == [(namespace, f"{model}/1")]
    assert [(d.namespace, d.name) for d in lineage.inputs] == [(namespace, source)]
    # The model's asset (named by its connection id) converts to the same namespace, resolved
    # from the connection when lineage is extracted.
    from airflow_mlflow_registry.assets import model_asset_to_openlineage

    dataset = model_asset_to_openlineage(model_asset("mlflow_default", model), None)
    assert (dataset.namespace, dataset.name) == (namespace, model)


def test_model_asset_converts_to_the_models_openlineage_dataset(
    to_openlineage: ToOpenLineage,
) -> None:
    dataset = to_openlineage(model_asset("http://h:5000", "churn model"), None)
    assert (dataset.namespace, dataset.name) == ("mlflow://h:5000", "churn model")
    dataset = to_openlineage(model_asset("http://h:5000/team-a", "churn"), None)
    assert (dataset.namespace, dataset.name) == ("mlflow://h:5000/team-a", "churn")


def test_a_model_in_an_mlflow_workspace_is_its_own_asset_and_namespace(
    use_connection: UseConnection, to_openlineage: ToOpenLineage
) -> None:
    from airflow_mlflow_registry.utils.openlineage_facets import model_namespace

    team_a = model_asset("http://H:5000/p", "churn", workspace="team-a")
    team_b = model_asset("http://h:5000/p", "churn", workspace="team-b")
    assert team_a.uri == "mlflow://h:5000/p/workspaces/team-a/churn"
    assert team_b.uri == "mlflow://h:5000/p/workspaces/team-b/churn"
    assert model_asset("http://h:5000/p", "churn").uri == "mlflow://h:5000/p/churn"
    with pytest.raises(ValueError, match="extra 'workspace'"):
        model_asset("mlflow_default", "churn", workspace="team-a")

    record = {"tracking_uri": "http://h:5000", "model_name": "churn", "version": "1"}
    assert model_namespace(record) == "mlflow://h:5000"
    assert model_namespace({**record, "workspace": "team-a"}) == "mlflow://h:5000/workspaces/team-a"

    use_connection("team_a", "http://h:5000", workspace="team-a")
    dataset = to_openlineage(model_asset("team_a", "churn"), None)
    assert (dataset.namespace, dataset.name) == ("mlflow://h:5000/workspaces/team-a", "churn")


def test_two_databricks_connections_are_two_assets_named_by_their_workspace_hosts(
    use_connection: UseConnection, to_openlineage: ToOpenLineage
) -> None:
    hosts = {"databricks_a": "adb-1111.1", "databricks_b": "adb-2222.2"}
    for conn_id, host in hosts.items():
        use_connection(
            conn_id,
            "databricks",
            databricks_host=f"https://{host}.azuredatabricks.net",
            token="dapi-test-token",
        )
    asset_a, asset_b = (model_asset(conn_id, "churn") for conn_id in hosts)
    assert asset_a.uri == "mlflow://airflow_connection/databricks_a/churn"
    assert asset_b.uri == "mlflow://airflow_connection/databricks_b/churn"
    assert [to_openlineage(a, None).namespace for a in (asset_a, asset_b)] == [
        "mlflow://adb-1111.1.azuredatabricks.net",
        "mlflow://adb-2222.2.azuredatabricks.net",
    ]
    # A Databricks tracking URI names no workspace: the asset would be every workspace's.
    for uri in ("databricks://profile", "databricks-uc://profile"):
        with pytest.raises(ValueError, match="workspace URL"):
            model_asset(uri, "churn")


def test_asset_of_an_unreadable_connection_converts_to_its_connection_namespace(
    to_openlineage: ToOpenLineage,
) -> None:
    dataset = to_openlineage(model_asset("mlflow_undefined", "churn"), None)
    assert (dataset.namespace, dataset.name) == (
        "mlflow://airflow_connection/mlflow_undefined",
        "churn",
    )


def test_openlineage_output_namespace_keeps_the_tracking_path_prefix() -> None:
    pytest.importorskip("airflow.providers.openlineage")
    from airflow_mlflow_registry.utils.openlineage_facets import model_version_lineage

    namespaces = {
        model_version_lineage(
            {"tracking_uri": f"https://h/{team}", "model_name": "m", "version": "1"}
        )
        .outputs[0]
        .namespace
        for team in ("team-a", "team-b")
    }
    assert namespaces == {"mlflow://h/team-a", "mlflow://h/team-b"}


def test_openlineage_method_returns_none_when_the_provider_is_missing(
    default_registry: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator, _ = promoted_operator(default_registry, unique("no-lineage"))
    # A None entry in sys.modules makes `import airflow.providers.openlineage...` fail.
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage", None)
    assert operator.get_openlineage_facets_on_complete(task_instance=None) is None


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("s3://bucket/models/churn", ("s3://bucket", "models/churn")),
        ("file:///srv/models/churn", ("file", "/srv/models/churn")),
        ("runs:/abc123/model", ("mlflow://h:5000", "runs:/abc123/model")),
        ("models:/m-0123", ("mlflow://h:5000", "models:/m-0123")),
        (
            "mlflow-artifacts:/1/abc/artifacts/model",
            ("mlflow://h:5000", "mlflow-artifacts:/1/abc/artifacts/model"),
        ),
        (
            "https://user:pw-Kq2@b.s3.amazonaws.com/m.tar?X-Amz-Signature=sig-Kq2",
            ("https://b.s3.amazonaws.com", "m.tar"),
        ),
    ],
)
def test_openlineage_input_name_follows_the_source_storage(
    source: str, expected: tuple[str, str]
) -> None:
    assert source_dataset_name(source, "mlflow://h:5000") == expected
