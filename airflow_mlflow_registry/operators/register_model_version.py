"""``RegisterModelVersionOperator``: register a model version once per task instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from airflow_mlflow_registry.validation import (
    check_aliases,
    check_model_name,
    check_model_uri,
    check_tags,
    check_timeout,
    is_templated,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context


class RegisterModelVersionOperator(BaseOperator):
    """Register a model as a new version in the MLflow Model Registry, with lineage.

    The version is created with ``tags`` plus ``airflow.*`` lineage tags (DAG, run, task,
    map index, try, logical date, data interval, link to the task instance) in one request,
    waited on until READY, and each alias is pointed at it. Retries, clears and backfill
    re-runs of the same task instance return the version registered before instead of creating
    another (``created`` is then false). Mapped tasks register one version per map index.

    Returns (and pushes to XCom) a plain dict: ``model_name``, ``version``, ``model_uri``
    (``models:/<name>/<version>``), ``source``, ``run_id``, ``status``, ``aliases``, ``tags``,
    ``lineage``, ``created``, ``tracking_uri``, ``registered_at``, ``model_version_url``.

    :param model_name: registered model name; created when missing. Templated.
    :param model_uri: ``runs:/<run_id>/<path>``, ``models:/<logged_model_id>`` or an artifact
        location (``mlflow-artifacts:/...``, ``s3://...``, ``file://...``). Templated.
    :param run_id: MLflow run that produced the model; taken from a ``runs:/`` URI when
        omitted. Templated.
    :param description: version description. Templated.
    :param tags: user tags (str to str; numbers are converted). Templated.
    :param aliases: aliases to point at the new version, e.g. ``["staging"]``. Templated.
    :param await_registration_for: seconds to wait for status READY (default 300).
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    """

    template_fields: Sequence[str] = (
        "model_name",
        "model_uri",
        "run_id",
        "description",
        "tags",
        "aliases",
    )
    ui_color = "#d0e9f7"

    def __init__(
        self,
        *,
        model_name: str,
        model_uri: str,
        run_id: str | None = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        aliases: Sequence[str] | None = None,
        await_registration_for: float = 300,
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        self.model_uri = model_uri if is_templated(model_uri) else check_model_uri(model_uri)
        self.run_id = run_id
        self.description = description
        self.tags = check_tags(tags, at_parse=True)
        self.aliases = aliases if is_templated(aliases) else check_aliases(aliases)
        self.await_registration_for = check_timeout(
            await_registration_for, "await_registration_for"
        )
        self.mlflow_conn_id = mlflow_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        return hook.register_model_version(
            self.model_name,
            self.model_uri,
            run_id=self.run_id or None,
            description=self.description or None,
            tags=self.tags,
            aliases=self.aliases,
            lineage=TaskInstanceLineage.from_context(context),
            await_registration_for=self.await_registration_for,
        )
