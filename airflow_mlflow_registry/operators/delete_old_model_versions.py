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

"""``DeleteOldModelVersionsOperator``: retention for one registered model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.retention import (
    DEFAULT_KEEP_ALIAS_HOLDERS,
    RetentionRule,
    check_max_deletions,
    check_rule_given,
    parse_duration,
    parse_keep_latest,
)
from airflow_mlflow_registry.utils.openlineage_facets import deleted_versions_lineage
from airflow_mlflow_registry.utils.search_filters import check_search_tags
from airflow_mlflow_registry.utils.validation import check_model_name, is_templated

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime, timedelta

    from airflow.sdk import Context


class DeleteOldModelVersionsOperator(BaseOperator):
    """Delete old versions of a registered model by rule; never one an alias points at.

    The rule keeps the ``keep_latest`` newest READY versions and/or every version registered
    less than ``older_than`` ago, counted among the versions carrying every tag in ``tags``
    (the others are left alone). Of the versions it lets go, those an alias points at and
    those whose registration is still in flight (``PENDING_REGISTRATION``) are kept;
    ``FAILED_REGISTRATION`` versions are not counted toward ``keep_latest`` and are deleted
    when the rule lets them go. The model's aliases are read just before each delete and the
    version is kept if an alias points at it by then; an alias pointed at it in the instant
    between that read and the delete is deleted with it (MLflow has no conditional delete),
    and reported in ``aliases_vanished`` and the log when it existed before (see
    :mod:`airflow_mlflow_registry.retention` for the exact window). Ages are measured from
    the DAG run's ``run_after`` (when the run was due), so every try of a task instance uses
    the same cutoff. With ``dry_run`` nothing is deleted.

    Idempotent and safe to retry: a version already gone is not an error, and a retry after a
    partial run searches again and deletes what is left.

    Returns (and pushes to XCom) a plain dict: ``model_name``, ``dry_run``, ``rule``,
    ``cutoff``, ``examined``, ``deleted``, ``would_delete``, ``failed_registrations_deleted``,
    ``already_gone``, ``protected``, ``remaining``, ``aliases_vanished``, ``tracking_uri`` (see
    :func:`~airflow_mlflow_registry.hooks.version_deletion.delete_expired_versions`).

    :param model_name: registered model name. Templated.
    :param keep_latest: keep this many newest READY versions (0 or more). Templated.
    :param older_than: delete only versions older than this: a ``timedelta``, seconds, or an
        ISO-8601 duration such as ``"P30D"``. Templated.
    :param tags: only versions carrying every one of these tags (str to str). Templated.
    :param dry_run: delete nothing; report what would be deleted in ``would_delete``.
    :param max_deletions: delete at most this many (the oldest) per run; None for no limit.
    :param keep_alias_holders: also keep the last this many versions each alias held, by the
        verified alias ledger (default 3; 0 keeps none), so that a rollback target survives.
    :param delete_artifacts: also delete the files of the logged models (``models:/m-...``
        sources) that no remaining version of any registered model on the server uses; never
        a run's own artifacts. Adds ``bytes_reclaimed`` to each deleted entry and
        ``artifacts_reclaimed``/``artifacts_kept``/``artifacts_failed`` to the record (in a dry
        run ``artifacts_would_reclaim``). Off by default; see :doc:`/howto/reclaim_storage`.
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    """

    template_fields: Sequence[str] = ("model_name", "keep_latest", "older_than", "tags")
    ui_color = "#f7e0d0"

    def __init__(
        self,
        *,
        model_name: str,
        keep_latest: int | str | None = None,
        older_than: timedelta | float | str | None = None,
        tags: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        max_deletions: int | None = None,
        keep_alias_holders: int = DEFAULT_KEEP_ALIAS_HOLDERS,
        delete_artifacts: bool = False,
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_rule_given(keep_latest, older_than)
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        self.keep_latest = (
            keep_latest if is_templated(keep_latest) else parse_keep_latest(keep_latest)
        )
        self.older_than = older_than if is_templated(older_than) else parse_duration(older_than)
        self.tags = check_search_tags(tags, "tags", at_parse=True)
        self.is_dry_run = dry_run  # BaseOperator.dry_run is a method
        self.max_deletions = check_max_deletions(max_deletions)
        self.keep_alias_holders = parse_keep_latest(keep_alias_holders, "keep_alias_holders")
        self.delete_artifacts = delete_artifacts
        self.mlflow_conn_id = mlflow_conn_id
        self.published_record: dict[str, Any] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        rule = RetentionRule.of(
            keep_latest=self.keep_latest,
            older_than=self.older_than,
            tags=self.tags,
            keep_alias_holders=self.keep_alias_holders,
        )
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        self.published_record = hook.delete_expired_versions(
            self.model_name,
            rule,
            now=_run_after(context),
            dry_run=self.is_dry_run,
            max_deletions=self.max_deletions,
            delete_artifacts=self.delete_artifacts,
        )
        return self.published_record

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The deleted versions as output datasets with a DROP lifecycle change (none in a dry
        run); None without the openlineage provider."""
        return deleted_versions_lineage(self.published_record)


def _run_after(context: Context) -> datetime | None:
    """When the DAG run was due (Airflow 3's ``run_after``), else its logical date; None
    (the current time) when the context has neither."""
    dag_run = context.get("dag_run")
    return getattr(dag_run, "run_after", None) or context.get("logical_date")
