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

"""OpenLineage for the operators, without a hard dependency on the openlineage provider.

A task that registers or promotes a model version reads the version's source artifact (input)
and produces the registered version (output, named ``<model>/<version>`` in namespace
``mlflow://<tracking-host>``, the namespace of the model's Airflow asset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_mlflow_registry.assets import ASSET_SCHEME, tracking_host
from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from collections.abc import Mapping

# Sources that live in the MLflow server's own namespace rather than a storage location.
_MLFLOW_SOURCE_SCHEMES = ("runs", "models", "mlflow-artifacts")


def model_version_lineage(record: Mapping[str, Any] | None) -> Any:
    """An ``OperatorLineage`` for a model-version record (the operators' XCom dict).

    :return: None when ``record`` is None (the task did not finish its work) or when the
        ``apache-airflow-providers-openlineage`` package is not installed.
    """
    if record is None or not _openlineage_installed():
        return None
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    namespace = model_namespace(record)
    output = Dataset(namespace=namespace, name=f"{record['model_name']}/{record['version']}")
    inputs = []
    if record.get("source"):
        source_namespace, source_name = source_dataset_name(record["source"], namespace)
        inputs.append(Dataset(namespace=source_namespace, name=source_name))
    return OperatorLineage(inputs=inputs, outputs=[output])


def source_dataset_name(source: str, mlflow_namespace: str) -> tuple[str, str]:
    """OpenLineage ``(namespace, name)`` of a version's source: storage URIs such as
    ``s3://bucket/key`` become ``("s3://bucket", "key")``, ``file:`` paths ``("file", path)``;
    ``runs:/``, ``models:/`` and ``mlflow-artifacts:/`` sources stay whole in the MLflow
    namespace. User info, query strings and fragments (credentials of pre-signed URLs) are
    left out.
    """
    parts = urlsplit(source)
    if parts.scheme == "file":
        return "file", parts.path
    if parts.netloc and parts.scheme not in _MLFLOW_SOURCE_SCHEMES:
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}", parts.path.lstrip("/") or "/"
    return mlflow_namespace, display_uri(source)


def deleted_versions_lineage(record: Mapping[str, Any] | None) -> Any:
    """An ``OperatorLineage`` for a retention record: each deleted version as an output
    dataset ``<model>/<version>`` with a ``DROP`` lifecycle-state-change facet. A dry run
    deleted nothing and reports no dataset.

    :return: None when ``record`` is None (the task did not finish) or when the
        ``apache-airflow-providers-openlineage`` package is not installed.
    """
    if record is None or not _openlineage_installed():
        return None
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        LifecycleStateChange,
        LifecycleStateChangeDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    namespace = model_namespace(record)
    drop = LifecycleStateChangeDatasetFacet(lifecycleStateChange=LifecycleStateChange.DROP)
    outputs = [
        Dataset(
            namespace=namespace,
            name=f"{record['model_name']}/{entry['version']}",
            facets={"lifecycleStateChange": drop},
        )
        for entry in record["deleted"]
    ]
    return OperatorLineage(inputs=[], outputs=outputs)


def copied_version_lineage(record: Mapping[str, Any] | None) -> Any:
    """An ``OperatorLineage`` for a copy's record: the source version (``<model>/<version>`` in
    the source's ``mlflow://<tracking-host>`` namespace) as input, the copy in the target's
    namespace as output.

    :return: None when ``record`` is None or the openlineage provider is not installed.
    """
    if record is None or not _openlineage_installed():
        return None
    from airflow.providers.common.compat.openlineage.facet import Dataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    source = record["copied_from"]
    return OperatorLineage(
        inputs=[
            Dataset(
                namespace=model_namespace(source),
                name=f"{source['model_name']}/{source['version']}",
            )
        ],
        outputs=[
            Dataset(
                namespace=model_namespace(record),
                name=f"{record['model_name']}/{record['version']}",
            )
        ],
    )


def model_namespace(record: Mapping[str, Any]) -> str:
    """The OpenLineage namespace of the model a record names: ``mlflow://<tracking-host>``, with
    ``/workspaces/<workspace>`` when the record has a ``workspace``
    (:func:`~airflow_mlflow_registry.assets.tracking_host`)."""
    return f"{ASSET_SCHEME}://{tracking_host(record['tracking_uri'], record.get('workspace'))}"


def _openlineage_installed() -> bool:
    """Whether the openlineage provider package itself imports (looked up in sys.modules), not
    only a cached submodule."""
    try:
        import airflow.providers.openlineage  # noqa: F401
    except ImportError:
        return False
    return True
