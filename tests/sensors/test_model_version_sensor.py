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

"""ModelVersionSensor in real DAG runs (`dag.test()`, which runs triggers in line) against a
real `mlflow server`, in poke mode and in deferrable mode."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import pendulum
import pytest
from airflow.sdk import DAG

from airflow_mlflow_registry.sensors import ModelVersionSensor
from airflow_mlflow_registry.triggers import MlflowModelVersionTrigger
from tests.support.dag_runs import run_dag, task_states, xcom_value
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow.models.dagrun import DagRun
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.usefixtures("airflow_db")
START = pendulum.datetime(2026, 1, 1, tz="UTC")
INLINE_TRIGGER_LOG = "[DAG TEST] running trigger in line"
SEARCH_PATH = "/model-versions/search"
ALIAS_PATH = "/registered-models/alias"


def output_says(capsys: pytest.CaptureFixture[str], text: str) -> bool:
    """Whether the task logs (dag.test() prints them to stdout) so far contain ``text``."""
    return text in capsys.readouterr().out


@pytest.fixture
def later() -> Iterator[Callable[[float, Callable[[], Any]], None]]:
    """``later(seconds, action)`` runs ``action`` in a thread after ``seconds`` (while the DAG
    runs); the test fails if an action raised, and waits for the threads at the end."""
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def schedule(seconds: float, action: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                action()
            except BaseException as exc:
                errors.append(exc)

        timer = threading.Timer(seconds, run)
        timer.start()
        threads.append(timer)

    yield schedule
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []


def sense(**kwargs: Any) -> DagRun:
    """Run one ModelVersionSensor task (task id ``wait``) and return the DAG run."""
    with DAG(unique("dag_sense"), schedule=None, start_date=START) as dag:
        ModelVersionSensor(task_id="wait", **kwargs)
    return run_dag(dag)


@pytest.fixture
def proxied_registry(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer, use_connection: UseConnection
) -> MlflowClient:
    """Points ``mlflow_default`` at ``fault_proxy`` (in front of ``mlflow_server``; no
    transport retries, so each injected fault reaches the sensor); returns a plain
    ``MlflowClient`` of the server itself, for changes the sensor must wait for."""

    use_connection("mlflow_default", fault_proxy.url, max_retries=0, timeout=5)
    return mlflow_server.client()


def after_a_poke(
    fault_proxy: FaultProxy, path: str, action: Callable[[], Any]
) -> Callable[[], Any]:
    """``action``, run once the sensor has sent a GET whose path contains ``path`` (waiting
    up to 240 s, else failing): proves the sensor polled before the change it waits for."""

    def run() -> Any:
        deadline = time.monotonic() + 240
        while not any(m == "GET" and path in p for m, p in fault_proxy.requests_seen):
            assert time.monotonic() < deadline, "the sensor never polled"
            time.sleep(0.2)
        return action()

    return run


def test_poke_mode_waits_until_the_alias_moves_to_a_newer_version(
    proxied_registry: MlflowClient,
    fault_proxy: FaultProxy,
    later: Callable[[float, Callable[[], Any]], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = unique("poke-alias")
    add_version(proxied_registry, model, aliases=["staging"])
    add_version(proxied_registry, model)
    move = partial(proxied_registry.set_registered_model_alias, model, "staging", "2")
    later(0, after_a_poke(fault_proxy, ALIAS_PATH, move))
    dag_run = sense(
        model_name=model, alias="staging", newer_than_version=1, poke_interval=1, timeout=300
    )
    assert task_states(dag_run) == {("wait", -1): "success"}
    record = xcom_value(dag_run, "wait")
    assert (record["model_name"], record["version"], record["aliases"]) == (model, "2", ["staging"])
    assert record["status"] == "READY" and record["model_uri"] == f"models:/{model}/2"
    assert output_says(capsys, "Waiting for")  # a poke found nothing first


def test_poke_mode_finds_the_newest_ready_version_with_all_tags(
    default_registry: MlflowClient,
) -> None:
    model = unique("poke-tags")
    add_version(default_registry, model, tags={"validated": "true", "team": "a"})
    add_version(default_registry, model, tags={"validated": "true", "team": "a"})
    add_version(default_registry, model, tags={"validated": "false", "team": "a"})
    dag_run = sense(
        model_name=model, tags={"validated": "true", "team": "a"}, poke_interval=1, timeout=60
    )
    assert xcom_value(dag_run, "wait")["version"] == "2"


def test_poke_mode_timeout_fails_with_the_condition_in_the_message(
    default_registry: MlflowClient, capsys: pytest.CaptureFixture[str]
) -> None:
    model = unique("poke-timeout")
    add_version(default_registry, model, aliases=["staging"])
    dag_run = sense(
        model_name=model, alias="staging", newer_than_version=1, poke_interval=1, timeout=2
    )
    assert task_states(dag_run) == {("wait", -1): "failed"}
    output = capsys.readouterr().out
    assert "AirflowSensorTimeout" in output
    assert (
        f"Waiting for a READY version of model {model!r} that alias 'staging' points at newer "
        "than version 1: Sensor has timed out" in output
    )


def test_deferrable_mode_polls_from_the_trigger_until_a_tagged_version_appears(
    proxied_registry: MlflowClient,
    fault_proxy: FaultProxy,
    later: Callable[[float, Callable[[], Any]], None],
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = unique("deferred")
    add_version(proxied_registry, model, tags={"validated": "false"})
    add = partial(add_version, proxied_registry, model, tags={"validated": "true"})
    later(0, after_a_poke(fault_proxy, SEARCH_PATH, add))
    dag_run = sense(
        model_name=model,
        tags={"validated": "true"},
        deferrable=True,
        poke_interval=1,
        timeout=300,
    )
    assert task_states(dag_run) == {("wait", -1): "success"}
    assert INLINE_TRIGGER_LOG in caplog.text  # the wait went through the trigger
    record = xcom_value(dag_run, "wait")
    assert (record["version"], record["tags"]) == ("2", {"validated": "true"})


def test_deferrable_mode_timeout_fails_with_the_trigger_message(
    default_registry: MlflowClient,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = unique("deferred-timeout")
    dag_run = sense(
        model_name=model, alias="production", deferrable=True, poke_interval=1, timeout=2
    )
    assert task_states(dag_run) == {("wait", -1): "failed"}
    assert INLINE_TRIGGER_LOG in caplog.text
    assert (
        f"Timed out after 2 s waiting for a READY version of model {model!r} that alias "
        "'production' points at" in capsys.readouterr().out
    )


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_soft_fail_skips_the_task_at_the_timeout(
    default_registry: MlflowClient, deferrable: bool
) -> None:
    dag_run = sense(
        model_name=unique("soft-fail"),
        alias="production",
        deferrable=deferrable,
        soft_fail=True,
        poke_interval=1,
        timeout=2,
    )
    assert task_states(dag_run) == {("wait", -1): "skipped"}


def test_a_version_the_alias_points_at_is_waited_for_while_pending(
    proxied_registry: MlflowClient, fault_proxy: FaultProxy
) -> None:
    """The alias's version reads PENDING_REGISTRATION in the first two replies (a registry
    that copies files first, such as Databricks): the sensor keeps polling and matches only
    when it is READY."""
    model = unique("pending-alias")
    add_version(proxied_registry, model, aliases=["staging"])

    def pending(body: dict[str, Any]) -> dict[str, Any]:
        body["model_version"]["status"] = "PENDING_REGISTRATION"
        return body

    fault_proxy.add_fault("GET", ALIAS_PATH, "rewrite_json", times=2, rewrite=pending)
    dag_run = sense(model_name=model, alias="staging", poke_interval=1, timeout=120)
    assert task_states(dag_run) == {("wait", -1): "success"}
    assert fault_proxy.faults_injected == 2
    alias_reads = [p for m, p in fault_proxy.requests_seen if m == "GET" and ALIAS_PATH in p]
    assert len(alias_reads) == 3, alias_reads
    assert xcom_value(dag_run, "wait")["status"] == "READY"


def test_the_newest_tagged_version_still_pending_is_passed_over(
    proxied_registry: MlflowClient, fault_proxy: FaultProxy
) -> None:
    """Versions 1 and 2 carry the tags; version 2 reads PENDING_REGISTRATION: the sensor
    matches version 1, the newest READY one."""
    model = unique("pending-tags")
    for _ in range(2):
        add_version(proxied_registry, model, tags={"validated": "true"})

    def second_pending(body: dict[str, Any]) -> dict[str, Any]:
        for version in body.get("model_versions", []):
            if version["version"] == "2":
                version["status"] = "PENDING_REGISTRATION"
        return body

    fault_proxy.add_fault("GET", SEARCH_PATH, "rewrite_json", times=None, rewrite=second_pending)
    dag_run = sense(model_name=model, tags={"validated": "true"}, poke_interval=1, timeout=60)
    assert task_states(dag_run) == {("wait", -1): "success"}
    assert fault_proxy.faults_injected >= 1
    assert xcom_value(dag_run, "wait")["version"] == "1"


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_transient_errors_are_polled_again_until_the_version_appears(
    proxied_registry: MlflowClient,
    fault_proxy: FaultProxy,
    later: Callable[[float, Callable[[], Any]], None],
    capsys: pytest.CaptureFixture[str],
    deferrable: bool,
) -> None:
    """Two 503s and a dropped connection: logged, and the wait goes on."""
    model = unique("transient")
    add_version(proxied_registry, model, tags={"validated": "false"})
    fault_proxy.add_fault("GET", SEARCH_PATH, "503_before_forward", times=2)
    fault_proxy.add_fault("GET", SEARCH_PATH, "drop_reply", times=1)
    add = partial(add_version, proxied_registry, model, tags={"validated": "true"})
    later(0, after_a_poke(fault_proxy, SEARCH_PATH, add))
    dag_run = sense(
        model_name=model,
        tags={"validated": "true"},
        deferrable=deferrable,
        poke_interval=1,
        timeout=300,
    )
    assert task_states(dag_run) == {("wait", -1): "success"}
    assert fault_proxy.faults_injected == 3
    assert xcom_value(dag_run, "wait")["version"] == "2"
    assert output_says(capsys, "a transient error; checking again until the timeout")


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_permanent_error_fails_at_once_not_at_the_timeout(
    proxied_registry: MlflowClient,
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
    deferrable: bool,
) -> None:
    model = unique("permanent")
    add_version(proxied_registry, model, tags={"validated": "false"})
    fault_proxy.add_fault("GET", SEARCH_PATH, "403_before_forward", times=None)
    dag_run = sense(
        model_name=model,
        tags={"validated": "true"},
        deferrable=deferrable,
        poke_interval=1,
        timeout=600,
    )
    assert task_states(dag_run) == {("wait", -1): "failed"}
    assert fault_proxy.faults_injected == 1  # one request, then the task failed
    output = capsys.readouterr().out
    assert "permission denied (HTTP 403)" in output
    assert "timed out" not in output.lower()


def test_deferrable_silent_fail_keeps_waiting_through_errors_until_the_timeout(
    proxied_registry: MlflowClient,
    fault_proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model = unique("silent")
    fault_proxy.add_fault("GET", SEARCH_PATH, "403_before_forward", times=None)
    dag_run = sense(
        model_name=model,
        tags={"validated": "true"},
        deferrable=True,
        silent_fail=True,
        poke_interval=1,
        timeout=3,
    )
    assert task_states(dag_run) == {("wait", -1): "failed"}
    assert INLINE_TRIGGER_LOG in caplog.text
    assert fault_proxy.faults_injected >= 2  # polled again after the first 403
    output = capsys.readouterr().out + caplog.text
    assert "silent_fail is set; checking again until the timeout" in output
    assert f"Timed out after 3 s waiting for a READY version of model {model!r}" in output


def test_deferrable_timeout_counts_from_the_first_try(
    proxied_registry: MlflowClient,
    fault_proxy: FaultProxy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Try 1 fails on a permanent error; try 2 defers with the start of try 1 (kept in the
    task state store), so its timeout is what is left of the first try's."""
    model = unique("first-try")
    fault_proxy.add_fault("GET", SEARCH_PATH, "403_before_forward", times=1)
    dag_run = sense(
        model_name=model,
        tags={"validated": "true"},
        deferrable=True,
        poke_interval=1,
        timeout=3,
        retries=1,
        retry_delay=timedelta(0),
    )
    assert task_states(dag_run) == {("wait", -1): "failed"}
    output = capsys.readouterr().out
    starts = re.findall(r"Deferring: waiting for .*? since (\S+), for at most 3 s", output)
    assert len(starts) == 2, output[-3000:]  # both tries deferred
    assert starts[0] == starts[1]
    assert "permission denied (HTTP 403)" in output and "Timed out after 3 s" in output


def test_trigger_reads_a_connection_stored_only_in_the_metadata_db(
    mlflow_server: MlflowServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The trigger builds its hook in `run` and resolves the connection in a worker thread
    through the supervisor (no AIRFLOW_CONN_ variable here), as in a triggerer."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    model = unique("db-conn")
    add_version(mlflow_server.client(), model, aliases=["staging"])
    conn_id = unique("mlflow_db_only").replace("-", "_")
    with create_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="mlflow", host=mlflow_server.url))
    dag_run = sense(
        model_name=model,
        alias="staging",
        deferrable=True,
        poke_interval=1,
        timeout=60,
        mlflow_conn_id=conn_id,
    )
    assert task_states(dag_run) == {("wait", -1): "success"}
    assert INLINE_TRIGGER_LOG in caplog.text
    assert xcom_value(dag_run, "wait")["version"] == "1"


def test_trigger_serializes_to_kwargs_that_rebuild_it() -> None:
    trigger = MlflowModelVersionTrigger(
        model_name="m",
        mlflow_conn_id="conn",
        alias="staging",
        tags={"k": "v"},
        newer_than_version="3",
        poke_interval=5,
        timeout=60,
        started_at=1_700_000_000.0,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_mlflow_registry.triggers.model_version.MlflowModelVersionTrigger"
    assert MlflowModelVersionTrigger(**kwargs).serialize() == (classpath, kwargs)
    assert kwargs["tags"] == {"k": "v"} and kwargs["started_at"] == 1_700_000_000.0


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({}, "Give alias, tags, or both"),
        ({"alias": "bad alias"}, "alias"),
        ({"tags": {"k": "it's"}}, "tags"),
        ({"alias": "staging", "newer_than_version": "x"}, "newer_than_version"),
        ({"model_name": "", "alias": "staging"}, "model_name"),
    ],
)
def test_bad_arguments_fail_at_dag_parse_naming_the_argument(
    kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(ValueError, match=argument):
        ModelVersionSensor(task_id="wait", **{"model_name": "m", **kwargs})
