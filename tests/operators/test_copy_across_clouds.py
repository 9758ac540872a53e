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

"""Copying a version between two registries whose artifact stores are S3 buckets on two
endpoints (two "accounts"), each side with the AWS identity its own connection names, in a
worker whose environment holds a third account's keys, profile and endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.exceptions import AmbientSourceRefusedError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.copies import SourceModel, copied_files
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.s3_server import S3Server
    from tests.support.s3_stores import DirectStore


@pytest.fixture
def source_model(
    direct_stores: dict[str, DirectStore], hostile_aws_environment: S3Server, tmp_path: Path
) -> SourceModel:
    """A model on store ``a``, its files logged to store ``a``'s bucket as ``a``'s user."""
    return SourceModel(
        MlflowRegistryHook(mlflow_conn_id=direct_stores["a"].mlflow_conn_id), tmp_path
    )


def test_copy_reads_the_source_store_and_writes_the_target_store_each_with_its_own_identity(
    direct_stores: dict[str, DirectStore],
    hostile_aws_environment: S3Server,
    source_model: SourceModel,
    tmp_path: Path,
) -> None:
    source, target = direct_stores["a"], direct_stores["b"]
    logged_before = {name: len(store.s3.access_log()) for name, store in direct_stores.items()}
    hostile_before = hostile_aws_environment.access_log()
    target_hook = MlflowRegistryHook(mlflow_conn_id=target.mlflow_conn_id)
    record = target_hook.copy_model_version_from(
        source_model.hook, source_model.name, alias="champion", target_model_name=unique("cloud")
    )
    served = {
        name: store.s3.access_log()[logged_before[name] :] for name, store in direct_stores.items()
    }
    assert hostile_aws_environment.access_log() == hostile_before
    assert f"GET /{source.bucket}/root/" in served["a"]  # downloaded from the source store
    assert f"/{target.bucket}" not in served["a"]
    assert f"PUT /{target.bucket}/root/" in served["b"]  # uploaded to the target store
    assert f"/{source.bucket}" not in served["b"]
    model_id = record["source"].removeprefix("models:/")
    assert [key for key in target.s3.object_keys(target.bucket) if model_id in key]
    assert copied_files(target_hook, record, tmp_path) == source_model.files["2"]


def test_source_in_a_bucket_no_connection_names_is_refused_unless_ambient_credentials_allowed(
    direct_stores: dict[str, DirectStore],
    hostile_aws_environment: S3Server,
    source_model: SourceModel,
    tmp_path: Path,
) -> None:
    """A version whose files are in a bucket outside the source connection's
    ``artifact_buckets``: refused, nothing read (the worker's endpoint saw no request) and
    nothing made on the target; with ``allow_ambient_credentials=True`` it is read with the
    worker's own identity (here the hostile environment's endpoint, which holds it)."""
    hostile_aws_environment.create_bucket("elsewhere")
    files = {"MLmodel": b"artifact_path: model\n", "weights.bin": b"ambient" * 64}
    client = hostile_aws_environment.client()
    for name, content in files.items():
        client.put_object(Bucket="elsewhere", Key=f"models/m1/{name}", Body=content)
    version = source_model.add_version("s3://elsewhere/models/m1", files)
    target_hook = MlflowRegistryHook(mlflow_conn_id=direct_stores["b"].mlflow_conn_id)
    hostile_before = hostile_aws_environment.access_log()
    target_model = unique("cloud-refused")
    with pytest.raises(AmbientSourceRefusedError, match="allow_ambient_credentials=True"):
        target_hook.copy_model_version_from(
            source_model.hook, source_model.name, version=version, target_model_name=target_model
        )
    assert hostile_aws_environment.access_log() == hostile_before
    assert target_hook.get_conn().search_registered_models(f"name = '{target_model}'") == []

    record = target_hook.copy_model_version_from(
        source_model.hook,
        source_model.name,
        version=version,
        target_model_name=unique("cloud-ambient"),
        allow_ambient_credentials=True,
    )
    assert "GET /elsewhere/models/m1/" in hostile_aws_environment.access_log()
    assert copied_files(target_hook, record, tmp_path) == files
