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

"""Direct-access S3 artifact stores with each connection's own AWS identity: two MLflow
servers whose clients read and write their S3 buckets themselves
(``--default-artifact-root s3://... --no-serve-artifacts``), each store on an S3 endpoint of
its own (two moto server processes: two "accounts", each accepting only its own keys), used
from threads of one process whose environment holds a third account's keys, profile and
endpoints (where every store's bucket also exists, so a misdirected request would succeed
there, not fail).
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.exceptions import (
    AmbientSourceRefusedError,
    MlflowConnectionConfigError,
)
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.client.mlflow_compat import tracking_client_of
from airflow_mlflow_registry.hooks.client.model_source_download import download_through_client
from airflow_mlflow_registry.hooks.client.s3_artifact_store import aws_connection_s3_client
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from tests.support.s3_server import S3Server
    from tests.support.s3_stores import DirectStore

THREADS = 20


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def log_register_download_delete(
    store: DirectStore, experiment_id: str, model_name: str, work: Path
) -> dict[str, Any]:
    """As ``store``'s connection: log a model (MLflow 3 logged model) and a scratch file of a
    new run, register the model, download the version back, delete the scratch file. Returns
    what was made and read, and when this ran."""
    import mlflow.sklearn
    import sklearn
    from sklearn.dummy import DummyClassifier

    started = time.monotonic()
    hook = MlflowRegistryHook(mlflow_conn_id=store.mlflow_conn_id)
    client = hook.get_conn()
    run_id = client.create_run(experiment_id).info.run_id
    model = DummyClassifier().fit([[0], [1]], [0, 1])
    logged = hook.log_model(
        mlflow.sklearn,
        model,
        run_id=run_id,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    scratch = work / "scratch.txt"
    scratch.write_bytes(uuid.uuid4().bytes)
    client.log_artifact(run_id, str(scratch), "scratch")
    record = hook.register_model_version(model_name, logged["model_uri"])
    downloaded = work / "downloaded"
    downloaded.mkdir()
    local = download_through_client(
        client,
        f"models:/{model_name}/{record['version']}",
        str(downloaded),
        allow_ambient_credentials=False,
    )
    run_artifacts = client.get_run(run_id).info.artifact_uri
    access = tracking_client_of(client).artifact_access  # type: ignore[attr-defined]
    access.repository(run_artifacts, allow_ambient_credentials=False).delete_artifacts("scratch")
    return {
        "store": store.name,
        "model_id": logged["model_id"],
        "artifact_location": logged["artifact_location"],
        "run_artifacts": run_artifacts,
        "files": files_under(Path(local)),
        "started": started,
        "ended": time.monotonic(),
    }


@pytest.mark.e2e
def test_twenty_threads_on_two_connections_use_only_their_own_s3_endpoint_in_a_hostile_env(
    direct_stores: dict[str, DirectStore], hostile_aws_environment: S3Server, tmp_path: Path
) -> None:
    """Each store gets every object of its own threads and none of the other's, signed with its
    own keys (an endpoint refuses others'); every read came back from its own store; the other
    store's endpoint and the hostile one saw no request for the store's bucket; all threads ran
    at once."""
    hostile_log_before = hostile_aws_environment.access_log()
    logged_before = {name: len(store.s3.access_log()) for name, store in direct_stores.items()}
    names = {name: unique(f"s3-identity-{name}") for name in direct_stores}
    experiments = {
        name: MlflowRegistryHook(mlflow_conn_id=store.mlflow_conn_id)
        .get_conn()
        .create_experiment(unique(f"s3-identity-{name}"))
        for name, store in direct_stores.items()
    }
    barrier = threading.Barrier(THREADS)

    def work(index: int) -> dict[str, Any]:
        store = direct_stores["ab"[index % 2]]
        directory = tmp_path / f"thread-{index}"
        directory.mkdir()
        barrier.wait(timeout=120)
        return log_register_download_delete(
            store, experiments[store.name], names[store.name], directory
        )

    with ThreadPoolExecutor(max_workers=THREADS) as executor:
        results = list(executor.map(work, range(THREADS)))
    # What each endpoint served to the threads (the checks below list buckets themselves).
    served = {
        name: store.s3.access_log()[logged_before[name] :] for name, store in direct_stores.items()
    }
    assert hostile_aws_environment.access_log() == hostile_log_before

    assert max(result["started"] for result in results) < min(
        result["ended"] for result in results
    ), "the threads did not overlap"
    for name, store in direct_stores.items():
        other = direct_stores["b" if name == "a" else "a"]
        mine = [result for result in results if result["store"] == name]
        assert len(mine) == THREADS // 2
        keys = store.s3.object_keys(store.bucket)
        other_keys = other.s3.object_keys(store.bucket)
        for result in mine:
            assert result["artifact_location"].startswith(f"s3://{store.bucket}/root/")
            prefix = result["artifact_location"].removeprefix(f"s3://{store.bucket}/") + "/"
            model_files = {key.removeprefix(prefix) for key in keys if key.startswith(prefix)}
            assert "MLmodel" in model_files
            assert not [key for key in other_keys if result["model_id"] in key]
            # Read back whole from its own store: the other endpoints hold no such model.
            assert set(result["files"]) == model_files
            assert result["model_id"].encode() in result["files"]["MLmodel"]
        assert not [key for key in keys if "/scratch/" in key], "a scratch file was not deleted"
        # Nothing of this store reached the other store's endpoint (nor the hostile one).
        assert f"/{other.bucket}/root/" in served[other.name]
        assert f"/{store.bucket}" not in served[other.name]


def test_connection_with_an_aws_identity_refuses_to_log_outside_its_buckets(
    direct_stores: dict[str, DirectStore], hostile_aws_environment: S3Server, tmp_path: Path
) -> None:
    """A run whose experiment stores artifacts in a bucket outside ``artifact_buckets``: the
    upload is refused naming the field, and the worker's (hostile) endpoint, which holds that
    bucket, receives nothing."""
    store = direct_stores["a"]
    hostile_aws_environment.create_bucket("elsewhere")
    hostile_before = hostile_aws_environment.access_log()
    client = MlflowRegistryHook(mlflow_conn_id=store.mlflow_conn_id).get_conn()
    experiment_id = client.create_experiment(
        unique("s3-elsewhere"), artifact_location="s3://elsewhere/root"
    )
    run_id = client.create_run(experiment_id).info.run_id
    (tmp_path / "file.txt").write_text("stays here")
    with pytest.raises(AmbientSourceRefusedError) as raised:
        client.log_artifact(run_id, str(tmp_path / "file.txt"))
    message = str(raised.value)
    for expected in (store.mlflow_conn_id, "s3://elsewhere/root", "'artifact_buckets'"):
        assert expected in message
    assert hostile_aws_environment.access_log() == hostile_before


def test_missing_linked_aws_connection_fails_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An ``aws_conn_id`` naming no Airflow connection is an error, not the Amazon hook's
    fallback to the worker's own identity."""
    monkeypatch.delenv("AIRFLOW_CONN_AWS_NOWHERE", raising=False)
    with pytest.raises(MlflowConnectionConfigError) as raised:
        aws_connection_s3_client("mlflow_s3", "aws_nowhere")
    message = str(raised.value)
    for expected in ("'mlflow_s3'", "'aws_conn_id'", "'aws_nowhere'", "does not exist"):
        assert expected in message


def test_missing_amazon_provider_fails_naming_the_field_and_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the ``[amazon]`` extra (the provider's module cannot be imported) the error says
    what to install; no Airflow connection is looked up first."""
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.hooks.base_aws", None)
    with pytest.raises(MlflowConnectionConfigError) as raised:
        aws_connection_s3_client("mlflow_s3", "aws_never_looked_up")
    message = str(raised.value)
    for expected in ("'mlflow_s3'", "'aws_conn_id'", "airflow-mlflow-registry[amazon]"):
        assert expected in message
