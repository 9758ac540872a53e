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

"""What an operator that produces a model version shows besides its XCom: the "MLflow model
version" link, an optional asset event for the model, and OpenLineage datasets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.assets import model_asset, record_model_asset_event
from airflow_mlflow_registry.links.mlflow import MlflowModelVersionLink
from airflow_mlflow_registry.utils.openlineage_facets import model_version_lineage
from airflow_mlflow_registry.utils.validation import is_templated

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from airflow.sdk import Asset, BaseOperatorLink, Context

#: The fields of a version's record (``hook.model_version_record``) that says where the version
#: and its model live.
VERSION_LOCATION_FIELDS = frozenset(
    {"model_uri", "model_version_url", "source", "run_id", "tracking_uri", "workspace"}
)


def version_location(version_record: Mapping[str, Any]) -> dict[str, Any]:
    """The :data:`VERSION_LOCATION_FIELDS` of ``version_record``, for an operator's record about
    that version (an alias move, a rollback)."""
    return {key: value for key, value in version_record.items() if key in VERSION_LOCATION_FIELDS}


class ModelVersionOutputsMixin:
    """Mix into a ``BaseOperator`` (before it) whose ``execute`` returns a model-version record.

    Call :meth:`_declare_model_asset` in ``__init__`` and return through :meth:`_publish`.
    ``published_record`` is the record ``execute`` returned in this process (None before, or
    when the task failed or was skipped); the link and OpenLineage read it.
    """

    operator_extra_links: Collection[BaseOperatorLink] = (MlflowModelVersionLink(),)
    _model_asset: Asset | None = None
    published_record: dict[str, Any] | None = None

    def _declare_model_asset(self, emit_asset: bool, model_name: Any, mlflow_conn_id: str) -> None:
        """With ``emit_asset``, add the model's asset (:func:`model_asset`) to the outlets, so
        Airflow knows at parse time that this task updates it.

        :raises ValueError: when ``model_name`` is templated (the asset must be known at parse).
        """
        if not emit_asset:
            return
        if is_templated(model_name):
            raise ValueError(
                "emit_asset=True needs a literal model_name (the asset is declared when the DAG "
                f"is parsed), got the template {model_name!r}."
            )
        self._model_asset = model_asset(mlflow_conn_id, model_name)
        self.add_outlets([self._model_asset])  # type: ignore[attr-defined]

    def _publish(
        self, context: Context, record: dict[str, Any], alias: str | None, *, changed: bool
    ) -> dict[str, Any]:
        """Remember ``record`` for OpenLineage and return it; with ``emit_asset``, record the
        asset event only when the registry ``changed`` (a new version, or an alias that moved).

        Airflow records an event for every outlet of a successful task, so on a run that
        changed nothing the model's asset is taken out of this task instance's outlets: a
        re-run, or a promotion to the version the alias already holds, must not schedule the
        model's consumers again (an asset-scheduled promotion would otherwise trigger itself
        forever). The outlet stays declared in the DAG.
        """
        self.published_record = record
        if self._model_asset is not None:
            if changed:
                record_model_asset_event(context, self._model_asset, record, alias)
            else:
                operator: Any = self  # the BaseOperator this class is mixed into
                operator.outlets = [o for o in operator.outlets if o != self._model_asset]
                operator.log.info(
                    "Model %r: no new version and no alias moved; no event for asset %s.",
                    record["model_name"],
                    self._model_asset.uri,
                )
        return record

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage datasets of the finished task (see
        :func:`~airflow_mlflow_registry.utils.openlineage_facets.model_version_lineage`); None when
        the openlineage provider is not installed."""
        return model_version_lineage(self.published_record)
