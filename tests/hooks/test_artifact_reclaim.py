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

"""Retention with ``delete_artifacts`` against an MLflow server whose proxied artifact store is
a real S3 endpoint (moto's server on 127.0.0.1): what goes from the bucket, what stays, the dry
run, a delete that fails and is retried by the next run, and a registration that reuses a
reclaimed logged model."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.exceptions import LoggedModelReclaimedError, MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.artifact_reclaim import (
    PENDING_TAG_PREFIX,
    RECLAIMING_TAG,
    Pending,
)
from airflow_mlflow_registry.retention import RetentionRule
from tests.support.fault_proxy import FaultProxy
from tests.support.model_versions import unique
from tests.support.s3_server import proxied_s3_mlflow_server

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.conftest import UseConnection
    from tests.support.s3_server import S3Server

BUCKET = "artifacts"
DELETE_ARTIFACTS_PATH = "/api/2.0/mlflow-artifacts/artifacts/"


# In the end-to-end tier (.ci/e2e-tests.sh): these server-bound tests would put the default
# suite over its 8-minute budget.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def s3_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with proxied_s3_mlflow_server(tmp_path_factory.mktemp("reclaim"), BUCKET) as s3:
        yield s3


@pytest.fixture
def hook(s3_store: S3Server, use_connection: UseConnection) -> MlflowRegistryHook:
    assert s3_store.mlflow is not None
    use_connection("reclaim", s3_store.mlflow.url, max_retries=0)
    return MlflowRegistryHook(mlflow_conn_id="reclaim")


def log_model(hook: MlflowRegistryHook, experiment_id: str, tmp_path: Path, size: int) -> str:
    """A new READY logged model holding ``MLmodel`` and ``size`` random bytes; its id."""
    from mlflow.entities import LoggedModelStatus

    client = hook.get_conn()
    logged = client.create_logged_model(experiment_id, name="model")
    local = tmp_path / logged.model_id
    local.mkdir()
    (local / "MLmodel").write_text("artifact_path: model\n")
    (local / "weights.bin").write_bytes(uuid.uuid4().bytes * (size // 16))
    client.log_model_artifacts(logged.model_id, str(local))
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    return str(logged.model_id)


def keys_of(s3: S3Server, model_id: str) -> list[str]:
    return [key for key in s3.object_keys(BUCKET) if f"/{model_id}/" in key]


def register(hook: MlflowRegistryHook, model: str, model_id: str) -> str:
    client = hook.get_conn()
    return str(client.create_model_version(model, f"models:/{model_id}", model_id=model_id).version)


def orphan_and_newer(hook: MlflowRegistryHook, tmp_path: Path, label: str) -> tuple[str, str]:
    """A new model with version 1 from a logged model of its own (the one ``keep_latest=1``
    lets go) and version 2 from another; the model's name and version 1's logged model."""
    client = hook.get_conn()
    experiment = client.create_experiment(unique(label))
    model = unique(label)
    client.create_registered_model(model)
    orphan = log_model(hook, experiment, tmp_path, 1024)
    register(hook, model, orphan)
    register(hook, model, log_model(hook, experiment, tmp_path, 1024))
    return model, orphan


def test_delete_artifacts_frees_orphans_only(
    hook: MlflowRegistryHook, s3_store: S3Server, tmp_path: Path
) -> None:
    """v1 (its own logged model) goes with its files; v2's logged model stays because another
    registered model's version uses it; v3 (a ``runs:/`` source) goes and its run's files stay;
    v4 stays. The dry run before lists exactly the files and bytes that then go."""
    client = hook.get_conn()
    experiment = client.create_experiment(unique("reclaim"))
    model, other = unique("reclaimed"), unique("sharing")
    client.create_registered_model(model)
    client.create_registered_model(other)
    orphan = log_model(hook, experiment, tmp_path, 4096)
    shared = log_model(hook, experiment, tmp_path, 2048)
    register(hook, model, orphan)
    register(hook, model, shared)
    register(hook, other, shared)
    run_id = client.create_run(experiment).info.run_id
    (tmp_path / "run-model").mkdir()
    (tmp_path / "run-model" / "MLmodel").write_text("artifact_path: model\n")
    client.log_artifacts(run_id, str(tmp_path / "run-model"), "model")
    client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    register(hook, model, log_model(hook, experiment, tmp_path, 1024))
    run_keys = [key for key in s3_store.object_keys(BUCKET) if f"/{run_id}/" in key]
    orphan_keys, shared_keys = keys_of(s3_store, orphan), keys_of(s3_store, shared)
    assert run_keys and orphan_keys and shared_keys
    rule = RetentionRule.of(keep_latest=1)

    preview = hook.delete_expired_versions(model, rule, dry_run=True, delete_artifacts=True)

    assert [e["version"] for e in preview["would_delete"]] == ["1", "2", "3"]
    [would] = preview["artifacts_would_reclaim"]
    assert (would["logged_model_id"], would["versions"], would["files"]) == (orphan, ["1"], 2)
    assert would["bytes"] == 4096 + len("artifact_path: model\n")
    assert [e["bytes_reclaimed"] for e in preview["would_delete"]] == [would["bytes"], 0, 0]
    assert [e["logged_model_id"] for e in preview["artifacts_kept"]] == [shared]
    assert preview["artifacts_kept"][0]["used_by"] == [f"{other}/1"]
    assert keys_of(s3_store, orphan) == orphan_keys  # nothing deleted

    record = hook.delete_expired_versions(model, rule, delete_artifacts=True)

    assert [e["version"] for e in record["deleted"]] == ["1", "2", "3"]
    assert [e["bytes_reclaimed"] for e in record["deleted"]] == [would["bytes"], 0, 0]
    assert [(e["logged_model_id"], e["bytes"]) for e in record["artifacts_reclaimed"]] == [
        (orphan, would["bytes"])
    ]
    assert record["artifacts_failed"] == []
    assert keys_of(s3_store, orphan) == []
    assert keys_of(s3_store, shared) == shared_keys
    assert [key for key in s3_store.object_keys(BUCKET) if f"/{run_id}/" in key] == run_keys
    assert not any(
        k.startswith(PENDING_TAG_PREFIX) for k in client.get_registered_model(model).tags
    )


def test_failed_delete_stays_pending_and_the_next_run_retries(
    s3_store: S3Server, use_connection: UseConnection, tmp_path: Path
) -> None:
    """The files' delete answers 503: the version is deleted, the failure is reported, the
    pending tag stays; the next run (nothing left to delete by the rule) deletes the files."""
    assert s3_store.mlflow is not None
    with FaultProxy(s3_store.mlflow.url) as proxy:
        use_connection("reclaim_faulty", proxy.url, max_retries=0)
        hook = MlflowRegistryHook(mlflow_conn_id="reclaim_faulty")
        client = hook.get_conn()
        model, orphan = orphan_and_newer(hook, tmp_path, "reclaim-retry")
        rule = RetentionRule.of(keep_latest=1)
        proxy.add_fault("DELETE", DELETE_ARTIFACTS_PATH, "503_before_forward", times=1)

        first = hook.delete_expired_versions(model, rule, delete_artifacts=True)

        assert [e["version"] for e in first["deleted"]] == ["1"]
        assert first["artifacts_reclaimed"] == []
        assert [e["logged_model_id"] for e in first["artifacts_failed"]] == [orphan]
        assert keys_of(s3_store, orphan) != []
        assert PENDING_TAG_PREFIX + orphan in client.get_registered_model(model).tags

        second = hook.delete_expired_versions(model, rule, delete_artifacts=True)

    assert second["deleted"] == [], second
    assert second["artifacts_failed"] == [], second
    assert [(e["logged_model_id"], e["versions"]) for e in second["artifacts_reclaimed"]] == [
        (orphan, ["1"])
    ]
    assert keys_of(s3_store, orphan) == []
    assert PENDING_TAG_PREFIX + orphan not in client.get_registered_model(model).tags


def test_registering_a_reclaimed_logged_model_is_refused(
    hook: MlflowRegistryHook, tmp_path: Path
) -> None:
    """After its files were reclaimed (the logged model is deleted), the server refuses a new
    version of it, and none is left behind."""
    model, orphan = orphan_and_newer(hook, tmp_path, "reclaim-reuse")
    hook.delete_expired_versions(model, RetentionRule.of(keep_latest=1), delete_artifacts=True)

    with pytest.raises(MlflowRequestError, match=orphan):
        hook.register_model_version(model, f"models:/{orphan}")

    versions = hook.get_conn().search_model_versions(f"name='{model}'")
    assert sorted(mv.version for mv in versions) == ["2"]


def test_registering_a_logged_model_under_reclaim_deletes_the_new_version(
    hook: MlflowRegistryHook, tmp_path: Path
) -> None:
    """A logged model carrying retention's lease (a reclaim between its fence and its search):
    the server accepts the version, the hook's check after the create deletes it again and
    raises."""
    model, orphan = orphan_and_newer(hook, tmp_path, "reclaim-lease")
    client = hook.get_conn()
    client.set_logged_model_tags(orphan, {RECLAIMING_TAG: "held-by-test"})

    with pytest.raises(LoggedModelReclaimedError, match=orphan):
        hook.register_model_version(model, f"models:/{orphan}")

    versions = client.search_model_versions(f"name='{model}'")
    assert sorted((mv.version for mv in versions), key=int) == ["1", "2"]


def test_a_fenced_logged_model_in_use_stays_pending_until_unused(
    hook: MlflowRegistryHook, s3_store: S3Server, tmp_path: Path
) -> None:
    """A pending entry marked fenced (retention deleted the logged model, then found a version
    registered from it meanwhile): while that version lives, runs keep the files and the
    entry; once it is deleted (by anyone), the next run deletes the files and the entry."""
    client = hook.get_conn()
    model, _ = orphan_and_newer(hook, tmp_path, "reclaim-fenced")
    other = unique("reclaim-user")
    client.create_registered_model(other)
    experiment = client.create_experiment(unique("reclaim-fenced"))
    shared = log_model(hook, experiment, tmp_path, 1024)
    register(hook, other, shared)
    location = client.get_logged_model(shared).artifact_location
    key = PENDING_TAG_PREFIX + shared
    pending = Pending(["7"], location, fenced=True)
    client.set_registered_model_tag(model, key, pending.as_tag_value())
    rule = RetentionRule.of(keep_latest=5)  # deletes nothing

    kept = hook.delete_expired_versions(model, rule, delete_artifacts=True)

    assert [(e["logged_model_id"], e["used_by"]) for e in kept["artifacts_kept"]] == [
        (shared, [f"{other}/1"])
    ]
    assert keys_of(s3_store, shared) != []
    assert key in client.get_registered_model(model).tags
    client.delete_model_version(other, "1")

    reclaimed = hook.delete_expired_versions(model, rule, delete_artifacts=True)

    assert [e["logged_model_id"] for e in reclaimed["artifacts_reclaimed"]] == [shared]
    assert keys_of(s3_store, shared) == []
    assert key not in client.get_registered_model(model).tags
