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

"""Promotion across registries between two real basic-auth `mlflow server`s with different
users: the source is ``private_auth_mlflow_server`` (default permission NO_PERMISSIONS) as
alice, the target ``auth_mlflow_server`` as bob. The environment holds bob's credentials of
the source server, which neither side accepts for this work (403 on alice's artifacts at the
source, 401 at the target), so every passing download ran as alice and every upload as bob.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.exceptions import MlflowRequestError, SourceVersionNotFoundError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_copy import COPY_KEY_TAG
from airflow_mlflow_registry.operators import CopyModelVersionOperator
from airflow_mlflow_registry.utils.openlineage_facets import copied_version_lineage
from tests.support.copies import SourceModel, copied_files, target_versions
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.examples import load_example
from tests.support.model_versions import lineage, unique

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

START = pendulum.datetime(2026, 1, 1, tz="UTC")
CREATE = "/model-versions/create"


def copy_try(
    hook: MlflowRegistryHook,
    source: SourceModel,
    version: int,
    target_model: str,
    task_run: str,
    try_number: int,
) -> dict[str, Any]:
    """Try ``try_number`` of the task instance of DAG run ``task_run`` copying ``version`` of
    ``source`` into ``target_model`` through ``hook``; returns the hook's record."""
    return hook.copy_model_version_from(
        source.hook,
        source.name,
        version=version,
        target_model_name=target_model,
        lineage=lineage(task_run, try_number),
    )


@pytest.mark.usefixtures("hostile_environment")
def test_copy_by_alias_runs_each_side_as_its_own_user_and_tags_the_source(
    source_model: SourceModel,
    target_hook: MlflowRegistryHook,
    private_auth_mlflow_server: MlflowServer,
    auth_mlflow_server: MlflowServer,
    tmp_path: Path,
) -> None:
    record = target_hook.copy_model_version_from(
        source_model.hook,
        source_model.name,
        alias="champion",
        aliases=["production"],
        tags={"approved_by": "release-board"},
        lineage=lineage(unique("copy")),
    )
    assert (record["version"], record["created"], record["aliases"]) == ("1", True, ["production"])
    assert record["source"].startswith("models:/m-")
    assert record["copied_from"] == {
        "tracking_uri": private_auth_mlflow_server.url,
        "model_name": source_model.name,
        "version": "2",
        "run_id": source_model.hook.get_model_version_entity(source_model.name, 2).run_id,
    }
    assert record["tags"] == {"team": "fraud", "data": "2026-02", "approved_by": "release-board"}
    copied_from_tags = {
        k.removeprefix("airflow.copied_from."): v
        for k, v in record["lineage"].items()
        if k.startswith("airflow.copied_from.")
    }
    assert copied_from_tags == record["copied_from"]
    assert record["lineage"]["airflow.dag_id"] == "d"
    version = target_hook.get_model_version_entity(source_model.name, 1)
    assert version.description == "source version 2"
    assert copied_files(target_hook, record, tmp_path) == source_model.files["2"]
    # bob created the target model (MANAGE), alice's credentials never reached the target.
    assert auth_mlflow_server.model_permission(source_model.name, "bob") == "MANAGE"
    shown = json.dumps(record)
    for server in (private_auth_mlflow_server, auth_mlflow_server):
        assert not any(password in shown for password in server.passwords.values())


def test_lost_reply_of_the_targets_create_gives_one_version_and_a_retry_reuses_it(
    source_model: SourceModel,
    proxied_target_hook: MlflowRegistryHook,
    target_proxy: FaultProxy,
) -> None:
    target_model = unique("copy-target")
    proxied_target_hook.get_conn().create_registered_model(target_model)  # bob's model
    task_run = unique("copy")
    target_proxy.add_fault("POST", CREATE, "drop_reply")
    first = copy_try(proxied_target_hook, source_model, 1, target_model, task_run, 1)
    assert target_proxy.faults_injected == 1
    assert (first["version"], first["created"]) == ("1", True)
    assert target_versions(proxied_target_hook, target_model) == ["1"]

    target_proxy.reset_counts()
    retry = copy_try(proxied_target_hook, source_model, 1, target_model, task_run, 2)
    assert (retry["version"], retry["created"], retry["source"]) == ("1", False, first["source"])
    assert target_versions(proxied_target_hook, target_model) == ["1"]
    sent = [(method, path.split("?")[0]) for method, path in target_proxy.requests_seen]
    assert not any(method == "PUT" for method, _ in sent)  # no file uploaded again
    assert ("POST", "/api/2.0/mlflow/logged-models") not in sent
    experiment_id = (
        proxied_target_hook.get_conn().get_experiment_by_name("airflow-model-copies").experiment_id
    )
    copies = proxied_target_hook.get_conn().search_logged_models(
        [experiment_id], filter_string=f"name = '{source_model.name}'"
    )
    assert len(copies) == 1 and COPY_KEY_TAG in copies[0].tags


def test_retry_after_an_unfinished_upload_fills_the_same_logged_model(
    source_model: SourceModel,
    proxied_target_hook: MlflowRegistryHook,
    target_proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """Try 1 uploads the files but fails to mark the logged model READY; try 2 finds that
    logged model by its copy key, uploads into it again, finalizes it and registers once."""
    from mlflow.entities import LoggedModelStatus

    target_model = unique("copy-unfinished")
    task_run = unique("copy")
    target_proxy.add_fault("PATCH", "/logged-models/", "403_before_forward")
    with pytest.raises(MlflowRequestError, match=source_model.name):
        copy_try(proxied_target_hook, source_model, 2, target_model, task_run, 1)
    assert target_proxy.faults_injected == 1
    retry = copy_try(proxied_target_hook, source_model, 2, target_model, task_run, 2)
    assert (retry["version"], retry["created"]) == ("1", True)
    client = proxied_target_hook.get_conn()
    experiment_id = client.get_experiment_by_name("airflow-model-copies").experiment_id
    copies = client.search_logged_models(
        [experiment_id], filter_string=f"name = '{source_model.name}'"
    )
    assert [m.model_id for m in copies] == [retry["source"].removeprefix("models:/")]
    assert copies[0].status == LoggedModelStatus.READY
    assert copied_files(proxied_target_hook, retry, tmp_path) == source_model.files["2"]


def test_clear_after_the_alias_moved_copies_the_new_source_and_supersedes(
    source_model: SourceModel, target_hook: MlflowRegistryHook, tmp_path: Path
) -> None:
    task_run = unique("copy")
    first = target_hook.copy_model_version_from(
        source_model.hook, source_model.name, alias="champion", lineage=lineage(task_run)
    )
    source_model.hook.get_conn().set_registered_model_alias(source_model.name, "champion", "1")
    cleared = target_hook.copy_model_version_from(
        source_model.hook, source_model.name, alias="champion", lineage=lineage(task_run, 2)
    )
    assert (first["copied_from"]["version"], cleared["copied_from"]["version"]) == ("2", "1")
    assert (cleared["version"], cleared["created"]) == ("2", True)
    assert cleared["lineage"]["airflow.supersedes_version"] == "1"
    assert copied_files(target_hook, cleared, tmp_path) == source_model.files["1"]


def test_missing_source_alias_fails_naming_the_model_and_alias(
    source_model: SourceModel, target_hook: MlflowRegistryHook
) -> None:
    with pytest.raises(SourceVersionNotFoundError, match=rf"'staging'.*{source_model.name}"):
        target_hook.copy_model_version_from(source_model.hook, source_model.name, alias="staging")


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({}, "source_version"),
        ({"source_version": 1, "source_alias": "champion"}, "source_alias"),
        ({"source_version": "latest"}, "source_version"),
        ({"source_alias": "v3"}, "source_alias"),
        ({"source_version": 1, "target_conn_id": "copy_source"}, "target_conn_id"),
        ({"source_version": 1, "target_aliases": ["latest"]}, "target_aliases"),
        ({"source_version": 1, "tags": {"airflow.dag_id": "x"}}, "tags"),
    ],
)
def test_bad_arguments_fail_at_parse_time_naming_the_field(
    arguments: dict[str, Any], field: str
) -> None:
    options = {"source_conn_id": "copy_source", "target_conn_id": "copy_target", **arguments}
    with pytest.raises(ValueError, match=field):
        CopyModelVersionOperator(task_id="copy", source_model_name="m", **options)


@pytest.mark.usefixtures("airflow_db", "hostile_environment")
def test_operator_in_a_dag_run_pushes_a_plain_record_without_secrets_and_its_lineage(
    source_model: SourceModel,
    target_hook: MlflowRegistryHook,
    private_auth_mlflow_server: MlflowServer,
    auth_mlflow_server: MlflowServer,
) -> None:
    target_model = unique("copy-dag")
    with DAG(unique("dag_copy"), schedule=None, start_date=START) as dag:
        CopyModelVersionOperator(
            task_id="copy",
            source_conn_id="copy_source",
            target_conn_id="copy_target",
            source_model_name=source_model.name,
            source_alias="{{ params.alias }}",
            target_model_name=target_model,
            target_aliases=["production"],
            params={"alias": "champion"},
        )
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("copy", -1): "success"}
    record = xcom_value(dag_run, "copy")
    assert (record["model_name"], record["version"]) == (target_model, "1")
    assert record["copied_from"]["version"] == "2"
    assert record["lineage"]["airflow.task_id"] == "copy"
    holder = target_hook.get_conn().get_model_version_by_alias(target_model, "production")
    assert holder.version == "1"
    shown = json.dumps(record)
    for server in (private_auth_mlflow_server, auth_mlflow_server):
        assert not any(password in shown for password in server.passwords.values())
    pytest.importorskip("airflow.providers.openlineage")
    lineage_of_copy = copied_version_lineage(record)
    source_host = private_auth_mlflow_server.url.removeprefix("http://")
    target_host = auth_mlflow_server.url.removeprefix("http://")
    assert [(d.namespace, d.name) for d in lineage_of_copy.inputs] == [
        (f"mlflow://{source_host}", f"{source_model.name}/2")
    ]
    assert [(d.namespace, d.name) for d in lineage_of_copy.outputs] == [
        (f"mlflow://{target_host}", f"{target_model}/1")
    ]


@pytest.mark.usefixtures("airflow_db", "hostile_environment")
def test_example_dag_promote_across_registries_runs_as_shipped(
    source_model: SourceModel,
    target_hook: MlflowRegistryHook,
    private_auth_mlflow_server: MlflowServer,
    auth_mlflow_server: MlflowServer,
    use_connection: UseConnection,
) -> None:
    """On its own model name: the source model made by alice, under the example's connection
    ids (``mlflow_default`` as alice on the source, ``mlflow_production`` as bob)."""
    source, target = private_auth_mlflow_server, auth_mlflow_server
    use_connection("mlflow_default", source.url, **source.sign_in_as("alice"))
    use_connection("mlflow_production", target.url, **target.sign_in_as("bob"))
    dag = load_example("promote_across_registries").promote_across_registries()
    dag.get_task("promote").source_model_name = source_model.name
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {("promote", -1): "success"}
    record = xcom_value(dag_run, "promote")
    assert record["copied_from"]["version"] == "2" and record["aliases"] == ["production"]
    assert record["tags"]["promoted_by"] == "promote_across_registries"
    holder = target_hook.get_conn().get_model_version_by_alias(source_model.name, "production")
    assert holder.version == record["version"]


LOGGED_MODELS = ("POST", "/mlflow/logged-models")


def test_two_overlapping_attempts_converge_on_one_version_and_one_logged_model(
    source_model: SourceModel,
    mlflow_server: MlflowServer,
    use_connection: UseConnection,
    tmp_path: Path,
) -> None:
    """A zombie try 1 and its retry, try 2, copy at the same time, each through its own
    proxy to the target: both logged-model creates are held until both arrived (so each
    attempt uploads to a logged model of its own), then both version creates likewise. One
    version and one logged model remain; both attempts return that version."""

    from tests.support.gate_proxy import CREATE_VERSION, GateProxy, barrier_wait, intersect

    target_model, task_run = unique("copy-overlap"), unique("copy")
    plain = mlflow_server.client()
    plain.create_registered_model(target_model)
    plain.create_experiment(f"{target_model}-files")
    logged_models_met, creates_met = threading.Barrier(2), threading.Barrier(2)
    records: dict[int, dict[str, Any]] = {}
    failures: list[BaseException] = []
    with GateProxy(mlflow_server.url) as first, GateProxy(mlflow_server.url) as second:
        proxies = {1: first, 2: second}
        for try_number, proxy in proxies.items():
            # The first POST to logged-models is the search for an earlier copy, the second
            # the create.
            proxy.hold(LOGGED_MODELS, [2], barrier_wait(logged_models_met))
            proxy.hold(CREATE_VERSION, [1], barrier_wait(creates_met))
            use_connection(f"copy_overlap_{try_number}", proxy.url)

        def attempt(try_number: int) -> None:
            target = MlflowRegistryHook(mlflow_conn_id=f"copy_overlap_{try_number}")
            source = MlflowRegistryHook(mlflow_conn_id="copy_source")
            try:
                records[try_number] = target.copy_model_version_from(
                    source,
                    source_model.name,
                    version=2,
                    target_model_name=target_model,
                    target_experiment_name=f"{target_model}-files",
                    aliases=["production"],
                    lineage=lineage(task_run, try_number),
                )
            except BaseException as exc:
                failures.append(exc)
                raise

        workers = [threading.Thread(target=attempt, args=(n,)) for n in proxies]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert failures == []
        logged_model_creates = [proxy.windows(LOGGED_MODELS)[1] for proxy in proxies.values()]
        version_creates = [proxy.windows(CREATE_VERSION)[0] for proxy in proxies.values()]

    assert intersect(*((w.start, w.end) for w in logged_model_creates)), logged_model_creates
    assert intersect(*((w.start, w.end) for w in version_creates)), version_creates
    assert set(records) == {1, 2}
    assert records[1]["version"] == records[2]["version"]
    assert sorted(record["created"] for record in records.values()) == [False, True]
    versions = plain.search_model_versions(f"name='{target_model}'")
    assert [mv.version for mv in versions] == [records[1]["version"]]
    assert (
        plain.get_model_version_by_alias(target_model, "production").version
        == (records[1]["version"])
    )
    experiment_id = plain.get_experiment_by_name(f"{target_model}-files").experiment_id
    copies = plain.search_logged_models([experiment_id])
    assert [f"models:/{m.model_id}" for m in copies] == [records[1]["source"]]
    use_connection("copy_overlap_check", mlflow_server.url)
    target_hook = MlflowRegistryHook(mlflow_conn_id="copy_overlap_check")
    assert copied_files(target_hook, records[1], tmp_path) == source_model.files["2"]
