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

"""``CopyModelVersionOperator``: promote a model version from one registry to another."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_copy import DEFAULT_TARGET_EXPERIMENT
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from airflow_mlflow_registry.operators.model_version_outputs import ModelVersionOutputsMixin
from airflow_mlflow_registry.utils.openlineage_facets import copied_version_lineage
from airflow_mlflow_registry.utils.search_filters import check_version_number
from airflow_mlflow_registry.utils.validation import (
    check_aliases,
    check_model_name,
    check_tags,
    check_timeout,
    is_templated,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context


class CopyModelVersionOperator(ModelVersionOutputsMixin, BaseOperator):
    """Copy a model version, files included, from the registry of ``source_conn_id`` to the
    registry of ``target_conn_id``, exactly once per task instance.

    The source version is chosen by ``source_version`` or ``source_alias``, read and
    downloaded as the source connection's user (only files the source tracking server serves
    or in the source connection's ``artifact_buckets``, read with its AWS connection, unless
    ``allow_ambient_credentials``), uploaded and registered as the target
    connection's user (nothing goes through ``os.environ``). The copy carries the source's
    user tags and description, ``tags``, the task's ``airflow.*`` lineage tags and
    ``airflow.copied_from.*`` tags naming the source (tracking URI without credentials, model,
    version, run); ``target_aliases`` are pointed at it. A retry or clear of the same task
    instance with the same source version returns the copy made before (``created`` false),
    without uploading again.

    Returns (and pushes to XCom) the target version's record (as
    ``RegisterModelVersionOperator``) plus ``copied_from``: ``tracking_uri``, ``model_name``,
    ``version``, ``run_id``.

    :param source_conn_id: ``mlflow`` connection of the registry to copy from.
    :param target_conn_id: ``mlflow`` connection of the registry to copy to.
    :param source_model_name: registered model on the source. Templated.
    :param source_version: version number to copy. Templated.
    :param source_alias: copy the version this alias points at, e.g. ``"champion"``. Templated.
    :param target_model_name: registered model on the target (default: the source's name;
        created when missing). Templated.
    :param target_aliases: aliases to point at the copy on the target. Templated.
    :param tags: further user tags of the copy (str to str). Templated.
    :param description: the copy's description (default: the source version's). Templated.
    :param target_experiment_name: target experiment holding the copied files as logged
        models (created when missing). Templated.
    :param await_registration_for: seconds to wait for the copy to be READY (default 300).
    :param allow_ambient_credentials: also copy source versions whose files are neither served
        by the source tracking server's proxied artifact store nor in the source connection's
        ``artifact_buckets`` (other ``s3://`` buckets, ``gs://``, ``file://``, a local path,
        another server), reading them with the worker's own
        credentials, file system and network access. Default False: such a source fails the
        task with ``AmbientSourceRefusedError`` and nothing is read or created. Turn it on
        only when everyone who can register versions on the source registry may read what
        the worker can.
    """

    template_fields: Sequence[str] = (
        "source_model_name",
        "source_version",
        "source_alias",
        "target_model_name",
        "target_aliases",
        "tags",
        "description",
        "target_experiment_name",
    )
    ui_color = "#d0e9f7"

    def __init__(
        self,
        *,
        source_conn_id: str,
        target_conn_id: str,
        source_model_name: str,
        source_version: str | int | None = None,
        source_alias: str | None = None,
        target_model_name: str | None = None,
        target_aliases: Sequence[str] | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        target_experiment_name: str = DEFAULT_TARGET_EXPERIMENT,
        await_registration_for: float = 300,
        allow_ambient_credentials: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (source_version is None) == (source_alias is None):
            raise ValueError(
                "Give exactly one of source_version (e.g. 3) and source_alias (e.g. "
                "'champion'): the version to copy."
            )
        if source_conn_id == target_conn_id:
            raise ValueError(
                f"source_conn_id and target_conn_id are both {source_conn_id!r}; to point an "
                "alias within one registry use SetModelVersionAliasOperator."
            )
        self.source_conn_id = source_conn_id
        self.target_conn_id = target_conn_id
        self.source_model_name = _checked(source_model_name, check_model_name, "source_model_name")
        if source_version is not None and not is_templated(source_version):
            source_version = check_version_number(source_version, "source_version")
        self.source_version = source_version
        self.source_alias = (
            source_alias
            if source_alias is None or is_templated(source_alias)
            else check_aliases([source_alias], "source_alias")[0]
        )
        self.target_model_name = (
            None
            if target_model_name is None
            else _checked(target_model_name, check_model_name, "target_model_name")
        )
        self.target_aliases = (
            target_aliases
            if is_templated(target_aliases)
            else check_aliases(target_aliases, "target_aliases")
        )
        self.tags = check_tags(tags, at_parse=True)
        self.description = description
        self.target_experiment_name = target_experiment_name
        self.await_registration_for = check_timeout(
            await_registration_for, "await_registration_for"
        )
        self.allow_ambient_credentials = allow_ambient_credentials

    def execute(self, context: Context) -> dict[str, Any]:
        source = MlflowRegistryHook(mlflow_conn_id=self.source_conn_id)
        target = MlflowRegistryHook(mlflow_conn_id=self.target_conn_id)
        record = target.copy_model_version_from(
            source,
            self.source_model_name,
            version=self.source_version or None,
            alias=self.source_alias or None,
            target_model_name=self.target_model_name or None,
            aliases=self.target_aliases,
            tags=self.tags,
            description=self.description,
            target_experiment_name=self.target_experiment_name,
            lineage=TaskInstanceLineage.from_context(context),
            await_registration_for=self.await_registration_for,
            allow_ambient_credentials=self.allow_ambient_credentials,
        )
        alias = record["aliases"][0] if record["aliases"] else None
        return self._publish(context, record, alias, changed=record["created"])

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The source version as input, the copy as output; None without the openlineage
        provider."""
        return copied_version_lineage(self.published_record)


def _checked(value: Any, check: Any, argument: str) -> Any:
    """``value`` passed through ``check(value, argument)`` unless it is a template."""
    return value if is_templated(value) else check(value, argument)
