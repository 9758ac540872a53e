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

"""``RegisterModelVersionOperator``: register a model version once per task instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlflow_registry.exceptions import NoMatchingRunError
from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.hooks.sources import DEFAULT_ARTIFACT_PATH, RunSearch
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from airflow_mlflow_registry.operators.model_version_outputs import ModelVersionOutputsMixin
from airflow_mlflow_registry.utils.redaction import mask_secrets, uri_secrets
from airflow_mlflow_registry.utils.validation import (
    check_aliases,
    check_model_name,
    check_model_uri,
    check_tags,
    check_timeout,
    is_templated,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import jinja2
    from airflow.sdk import Context


class RegisterModelVersionOperator(ModelVersionOutputsMixin, BaseOperator):
    """Register a model as a new version in the MLflow Model Registry, with lineage.

    The version is created with ``tags`` plus ``airflow.*`` lineage tags (DAG, run, task,
    map index, try, logical date, data interval, link to the task instance) in one request,
    waited on until READY, and each alias is pointed at it. Retries, clears and backfill
    re-runs of the same task instance with the same source return the version registered
    before instead of creating another (``created`` is then false); with another source (a run
    cleared to retrain) they register a new version that supersedes it and takes the aliases.
    Mapped tasks register one version per map index.

    Returns (and pushes to XCom) a plain dict: ``model_name``, ``version``, ``model_uri``
    (``models:/<name>/<version>``), ``source``, ``run_id``, ``status``, ``aliases``, ``tags``,
    ``lineage``, ``created``, ``tracking_uri``, ``registered_at``, ``model_version_url``.

    The model comes from ``model_uri``, or from a run search (for backfills: "the best run of
    this data interval"): ``experiment_name`` (or ``experiment_id``), ``run_filter``,
    ``order_by`` and ``artifact_path``. The search runs on every attempt, so a cleared task
    registers what it chooses now; the chosen run and the rendered filter are recorded as
    ``airflow.source_run_id``/``airflow.source_filter`` lineage tags.

    :param model_name: registered model name; created when missing. Templated.
    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<logged_model_id>`` or an artifact
        location (``mlflow-artifacts:/...``, ``s3://...``, ``file://...``). Templated.
    :param experiment_name: experiment to search for the run, instead of ``model_uri``.
        Templated.
    :param experiment_id: the same by id. Templated.
    :param run_filter: MLflow run filter, e.g. ``tags.data_date = '{{ ds }}'`` or
        ``attributes.start_time >= {{ data_interval_start.int_timestamp * 1000 }}``. Templated.
    :param order_by: MLflow ordering, e.g. ``["metrics.accuracy DESC"]``. Templated.
    :param artifact_path: the model's artifact path in the run (default ``model``). Templated.
    :param on_no_match: ``"fail"`` (default) or ``"skip"`` the task when no run matches. An
        experiment that does not exist always fails the task (``ExperimentNotFoundError``):
        it is a configuration error, not a day without runs.
    :param run_id: MLflow run that produced the model; taken from a ``runs:/`` URI when
        omitted. Templated.
    :param description: version description. Templated.
    :param tags: user tags (str to str; numbers are converted). Templated.
    :param aliases: aliases to point at the new version, e.g. ``["staging"]``. Templated.
    :param await_registration_for: seconds to wait for status READY (default 300).
    :param emit_asset: declare the model's asset (``assets.model_asset``) as an outlet and,
        when the registry changed (a new version, or an alias moved to it), record an event
        with ``version``, ``alias`` (the first of ``aliases``), ``run_id`` and ``model_uri``.
        A re-run that finds its version with every alias already on it (``created`` false)
        records none. Costs one request per alias. Needs a literal ``model_name``.
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    """

    template_fields: Sequence[str] = (
        "model_name",
        "model_uri",
        "run_id",
        "description",
        "tags",
        "aliases",
        "experiment_name",
        "experiment_id",
        "run_filter",
        "order_by",
        "artifact_path",
    )
    ui_color = "#d0e9f7"

    def __init__(
        self,
        *,
        model_name: str,
        model_uri: str | None = None,
        experiment_name: str | None = None,
        experiment_id: str | None = None,
        run_filter: str = "",
        order_by: Sequence[str] | None = None,
        artifact_path: str = DEFAULT_ARTIFACT_PATH,
        on_no_match: str = "fail",
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        aliases: Sequence[str] | None = None,
        await_registration_for: float = 300,
        emit_asset: bool = False,
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        if (model_uri is None) == (experiment_name is None and experiment_id is None):
            raise ValueError(
                "Give model_uri, or a run search (experiment_name or experiment_id, with "
                "run_filter/order_by), not both and not neither."
            )
        if experiment_name is not None and experiment_id is not None:
            raise ValueError("Give experiment_name or experiment_id, not both.")
        if on_no_match not in ("fail", "skip"):
            raise ValueError(f"on_no_match must be 'fail' or 'skip', got {on_no_match!r}.")
        if model_uri is not None and not is_templated(model_uri):
            model_uri = check_model_uri(model_uri)
        self.model_uri = model_uri
        self.experiment_name = experiment_name
        self.experiment_id = experiment_id
        self.run_filter = run_filter
        self.order_by = list(order_by or [])
        self.artifact_path = artifact_path
        self.on_no_match = on_no_match
        self.run_id = run_id
        self.description = description
        self.tags = check_tags(tags, at_parse=True)
        self.aliases = aliases if is_templated(aliases) else check_aliases(aliases)
        self.await_registration_for = check_timeout(
            await_registration_for, "await_registration_for"
        )
        self.mlflow_conn_id = mlflow_conn_id
        self._declare_model_asset(emit_asset, model_name, mlflow_conn_id)

    def render_template_fields(
        self, context: Context, jinja_env: jinja2.Environment | None = None
    ) -> None:
        """Render the templated fields, then mask the credentials inside ``model_uri`` (user
        info, pre-signed URL signatures): Airflow sends the rendered fields to the API server
        right after this, through its secrets masker."""
        super().render_template_fields(context, jinja_env)
        if isinstance(self.model_uri, str):
            mask_secrets(uri_secrets(self.model_uri))

    def execute(self, context: Context) -> dict[str, Any]:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        try:
            holders_before = self._alias_holders(hook) if self._model_asset is not None else {}
            record = self._register(hook, context)
            changed = record["created"] or any(
                holder != record["version"] for holder in holders_before.values()
            )
            alias = self.aliases[0] if self.aliases else None
            return self._publish(context, record, alias, changed=changed)
        except NoMatchingRunError as no_match:
            if self.on_no_match != "skip":
                raise
            from airflow_mlflow_registry.version_compat import AirflowSkipException

            raise AirflowSkipException(str(no_match)) from no_match

    def _alias_holders(self, hook: MlflowRegistryHook) -> dict[str, str | None]:
        """Each alias to the version it points at now (None: nowhere), to tell afterwards
        whether the registration moved one. One request per alias; only with ``emit_asset``."""
        model_name = check_model_name(self.model_name)
        holders: dict[str, str | None] = {}
        for alias in check_aliases(self.aliases):
            holder = hook.get_version_by_alias(model_name, alias)
            holders[alias] = None if holder is None else str(holder.version)
        return holders

    def _run_search(self) -> RunSearch | None:
        if self.model_uri:
            return None
        return RunSearch(
            experiment_name=self.experiment_name or None,
            experiment_id=str(self.experiment_id) if self.experiment_id else None,
            run_filter=self.run_filter or "",
            order_by=tuple(self.order_by),
            artifact_path=self.artifact_path or DEFAULT_ARTIFACT_PATH,
        )

    def _register(self, hook: MlflowRegistryHook, context: Context) -> dict[str, Any]:
        return hook.register_model_version(
            self.model_name,
            self.model_uri or None,
            run_search=self._run_search(),
            run_id=self.run_id or None,
            description=self.description or None,
            tags=self.tags,
            aliases=self.aliases,
            lineage=TaskInstanceLineage.from_context(context),
            await_registration_for=self.await_registration_for,
        )
