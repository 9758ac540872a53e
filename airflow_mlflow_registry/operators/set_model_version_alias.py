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

"""``SetModelVersionAliasOperator``: point an alias (``production``) at a chosen version."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.exceptions import NoCandidateVersionError
from airflow_mlflow_registry.hooks.aliases import MoveReason
from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.metric_guard import check_improvement, check_metric_direction
from airflow_mlflow_registry.operators.model_version_outputs import (
    ModelVersionOutputsMixin,
    version_location,
)
from airflow_mlflow_registry.utils.search_filters import check_search_tags, check_version_number
from airflow_mlflow_registry.utils.validation import (
    check_aliases,
    check_model_name,
    check_optional_alias,
    is_templated,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context
    from mlflow.entities.model_registry import ModelVersion


class SetModelVersionAliasOperator(ModelVersionOutputsMixin, BaseOperator):
    """Point ``alias`` of ``model_name`` at one version, chosen by exactly one of:

    * ``version``: that version number;
    * ``from_alias``: the version another alias points at ("promote what staging points at");
    * ``best_metric``: among the READY versions carrying every tag in ``candidate_tags`` and/or
      being the version ``candidate_alias`` points at (all versions of the model when neither
      is given), the one whose source run logged the best value of this metric
      (``metric_direction`` ``"max"`` or ``"min"``; ties go to the newest version).

    With ``require_improvement`` (needs ``best_metric``), the alias moves only when the chosen
    version's metric is strictly better than that of the version the alias points at; otherwise
    the task is skipped and the log states both values. A holder without the metric, or no
    holder at all, does not block the move.

    Idempotent: when the alias already points at the chosen version nothing is sent and
    ``changed`` is false.

    Returns (and pushes to XCom) a plain dict: ``model_name``, ``alias``, ``version``,
    ``previous_version`` (the version the alias pointed at before, or None: feed it to
    ``version`` of another instance to roll back), ``changed``, ``model_uri``,
    ``model_version_url``, ``source``, ``run_id``, ``tracking_uri``; with ``best_metric`` also
    ``metric``, ``metric_value`` and, with ``require_improvement``, ``previous_metric_value``.

    :param model_name: registered model name. Templated.
    :param alias: alias to point, e.g. ``"production"``. Templated.
    :param version: version number to point it at. Templated.
    :param from_alias: alias whose version to point it at, e.g. ``"staging"``. Templated.
    :param best_metric: metric of the candidates' source runs to choose by. Templated.
    :param metric_direction: ``"max"`` (default) or ``"min"``. Templated.
    :param candidate_tags: tags every candidate carries (str to str). Templated.
    :param candidate_alias: only the version this alias points at is a candidate. Templated.
    :param require_improvement: move only when the candidate beats the current holder.
    :param emit_asset: declare the model's asset
        (:func:`~airflow_mlflow_registry.assets.model_asset`) as an outlet and, when the alias
        moved (``changed``), record an event
        with ``version``, ``alias``, ``run_id`` and ``model_uri``; a run that leaves the alias
        where it was records none. Needs a literal ``model_name``.
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    """

    template_fields: Sequence[str] = (
        "model_name",
        "alias",
        "version",
        "from_alias",
        "best_metric",
        "metric_direction",
        "candidate_tags",
        "candidate_alias",
    )
    ui_color = "#d0e9f7"

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        version: str | int | None = None,
        from_alias: str | None = None,
        best_metric: str | None = None,
        metric_direction: str = "max",
        candidate_tags: Mapping[str, Any] | None = None,
        candidate_alias: str | None = None,
        require_improvement: bool = False,
        emit_asset: bool = False,
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if sum(choice is not None for choice in (version, from_alias, best_metric)) != 1:
            raise ValueError("Give exactly one of version, from_alias and best_metric.")
        if best_metric is None and (candidate_tags or candidate_alias or require_improvement):
            raise ValueError(
                "candidate_tags, candidate_alias and require_improvement need best_metric."
            )
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        self.alias = check_optional_alias(alias, "alias")
        if version is not None and not is_templated(version):
            version = check_version_number(version, "version")
        self.version = version
        self.from_alias = check_optional_alias(from_alias, "from_alias")
        if best_metric is not None and not (isinstance(best_metric, str) and best_metric.strip()):
            raise ValueError(f"best_metric must be a metric name, got {best_metric!r}.")
        self.best_metric = best_metric
        self.metric_direction = check_metric_direction(metric_direction)
        self.candidate_tags = check_search_tags(candidate_tags, "candidate_tags", at_parse=True)
        self.candidate_alias = check_optional_alias(candidate_alias, "candidate_alias")
        self.require_improvement = require_improvement
        self.mlflow_conn_id = mlflow_conn_id
        self._declare_model_asset(emit_asset, model_name, mlflow_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        model_name = check_model_name(self.model_name)
        alias = check_aliases([self.alias], "alias")[0]
        chosen, metric_value = self._choose_version(hook, model_name)
        metrics: dict[str, Any] = {}
        if self.best_metric is not None:
            metrics.update(metric=self.best_metric, metric_value=metric_value)
        if self.require_improvement:
            assert self.best_metric is not None and metric_value is not None
            metrics["previous_metric_value"] = check_improvement(
                hook, alias, chosen, self.best_metric, self.metric_direction, metric_value, self.log
            )
        previous_version = hook.set_model_version_alias(
            model_name, alias, chosen.version, MoveReason(MoveKind.SET_ALIAS, metrics)
        )
        version = str(chosen.version)
        version_record = hook.model_version_record(chosen)
        record = {
            "model_name": model_name,
            "alias": alias,
            "version": version,
            "previous_version": previous_version,
            "changed": previous_version != version,
            **version_location(version_record),
            **metrics,
        }
        return self._publish(context, record, alias, changed=record["changed"])

    def _choose_version(
        self, hook: MlflowRegistryHook, model_name: str
    ) -> tuple[ModelVersion, float | None]:
        """The version to point the alias at, and its metric value when chosen by metric."""
        if self.version is not None:
            chosen = hook.get_model_version_entity(
                model_name, check_version_number(self.version, "version")
            )
            if chosen.status != "READY":
                raise NoCandidateVersionError(
                    f"Model {model_name!r} version {chosen.version} is {chosen.status}, not READY."
                )
            return chosen, None
        if self.from_alias is not None:
            from_alias = check_aliases([self.from_alias], "from_alias")[0]
            holder = hook.get_version_by_alias(model_name, from_alias)
            if holder is None:
                raise NoCandidateVersionError(
                    f"Alias {from_alias!r} of model {model_name!r} does not exist (or the model "
                    "does not)."
                )
            return holder, None
        return self._best_candidate(hook, model_name)

    def _best_candidate(
        self, hook: MlflowRegistryHook, model_name: str
    ) -> tuple[ModelVersion, float]:
        assert self.best_metric is not None
        tags = check_search_tags(self.candidate_tags, "candidate_tags")
        candidate_alias = check_optional_alias(self.candidate_alias, "candidate_alias")
        criteria = f"tags {tags}, alias {candidate_alias!r}"
        candidates = hook.find_ready_versions(model_name, alias=candidate_alias, tags=tags)
        if not candidates:
            raise NoCandidateVersionError(
                f"No READY version of model {model_name!r} matches the candidate criteria "
                f"({criteria})."
            )
        best = hook.best_version_by_metric(candidates, self.best_metric, self.metric_direction)
        if best is None:
            raise NoCandidateVersionError(
                f"None of the candidate versions {[mv.version for mv in candidates]} of model "
                f"{model_name!r} ({criteria}) has a source run with metric {self.best_metric!r}."
            )
        self.log.info(
            "Best candidate by %s (%s): version %s with %s.",
            self.best_metric,
            self.metric_direction,
            best[0].version,
            best[1],
        )
        return best
