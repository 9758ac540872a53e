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

"""Runs: finding the run (and its model) to register, listing the runs of a time window, and
reading a version's source run and the metrics it logged.

Functions of :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`; the hook's
methods of the same names state their contracts. mlflow is imported only inside functions.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import (
    ExperimentNotFoundError,
    MlflowRequestError,
    MlflowServerTooOldError,
)
from airflow_mlflow_registry.hooks.registry_calls import SEARCH_PAGE_SIZE, error_code
from airflow_mlflow_registry.hooks.sources import ResolvedSource

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from mlflow.entities import LoggedModel, Run
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.store.entities import PagedList

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.hooks.sources import RunSearch
    from airflow_mlflow_registry.utils.time_window import TimeWindow

log = logging.getLogger(__name__)

# Run ids per ``IN (...)`` filter, and logged models per page of their search.
RUN_IDS_PER_SEARCH = 50
LOGGED_MODELS_PAGE_SIZE = 100


def find_run_source(registry: RegistryCalls, search: RunSearch) -> ResolvedSource | None:
    """The first run matching ``search`` and the model URI to register from it (its logged
    model, else ``runs:/<run_id>/<artifact_path>``, also on an MLflow 2 server), or None when
    no run matches."""
    client = registry.client
    experiment_id = search.experiment_id or experiment_id_of(registry, search.experiment_name)
    try:
        runs = client.search_runs(
            [experiment_id],
            filter_string=search.run_filter,
            order_by=list(search.order_by) or None,
            max_results=1,
        )
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise _experiment_not_found(registry, f"id {experiment_id}") from exc
        raise registry.request_error(f"Searching runs in {search.describe()}", exc) from exc
    if not runs:
        if search.experiment_id:
            # The server searches an unknown experiment id without complaint: check it here,
            # on the no-match path only, so a wrong id is not taken for "no run".
            _check_experiment_id(registry, search.experiment_id)
        return None
    return source_of_run(registry, runs[0].info.run_id, experiment_id, search)


def source_of_run(
    registry: RegistryCalls,
    run_id: str,
    experiment_id: str,
    search: RunSearch,
    logged: Sequence[LoggedModel] | None = None,
) -> ResolvedSource:
    """The model URI to register from run ``run_id`` (of ``experiment_id``), which ``search``
    chose: its logged model named ``search.artifact_path`` (or its only one), else
    ``runs:/<run_id>/<artifact_path>``, also on an MLflow 2 server. ``logged``: the run's
    logged models when already known (:func:`logged_models_of_runs`); else one request."""
    if logged is None:
        try:
            logged = registry.client.search_logged_models(
                [experiment_id], filter_string=f"source_run_id = '{run_id}'"
            )
        except MlflowServerTooOldError:
            logged = []  # an MLflow 2 server has no logged models: runs keep models as artifacts
        except Exception as exc:
            raise registry.request_error(f"Searching runs in {search.describe()}", exc) from exc
    named = [m for m in logged if m.name == search.artifact_path]
    chosen = named or (logged if len(logged) == 1 else [])
    if chosen:
        model_id = chosen[0].model_id
        return ResolvedSource(f"models:/{model_id}", run_id, experiment_id, search, model_id)
    uri = f"runs:/{run_id}/{search.artifact_path.strip('/')}"
    return ResolvedSource(uri, run_id, experiment_id, search)


def logged_models_of_runs(
    registry: RegistryCalls, experiment_id: str, run_ids: Sequence[str]
) -> dict[str, list[LoggedModel]]:
    """The logged models of each of ``run_ids`` (runs of ``experiment_id``), by run id; a run
    without any has an empty list, and so has every run on an MLflow 2 server. One
    ``source_run_id IN (...)`` search per ``RUN_IDS_PER_SEARCH`` runs (all pages).

    :raises MlflowRequestError: when a search fails.
    """
    found: dict[str, list[LoggedModel]] = {run_id: [] for run_id in run_ids}
    client = registry.client
    for first in range(0, len(run_ids), RUN_IDS_PER_SEARCH):
        quoted = ", ".join(f"'{run_id}'" for run_id in run_ids[first : first + RUN_IDS_PER_SEARCH])

        def search_page(token: str | None, quoted: str = quoted) -> PagedList[LoggedModel]:
            return client.search_logged_models(
                [experiment_id],
                filter_string=f"source_run_id IN ({quoted})",
                max_results=LOGGED_MODELS_PAGE_SIZE,
                page_token=token,
            )

        action = f"Searching the logged models of {len(run_ids)} runs of experiment {experiment_id}"
        try:
            for model in registry.all_pages(search_page, action):
                found.setdefault(model.source_run_id, []).append(model)
        except MlflowRequestError as exc:
            if isinstance(exc.__cause__, MlflowServerTooOldError):
                return found  # an MLflow 2 server: no logged models
            raise
    return found


def experiment_id_of(registry: RegistryCalls, experiment_name: str | None) -> str:
    """The id of the active experiment ``experiment_name``.

    :raises ExperimentNotFoundError: when it does not exist or is deleted.
    :raises MlflowRequestError: when the look-up fails.
    """
    try:
        experiment = registry.client.get_experiment_by_name(experiment_name or "")
    except Exception as exc:
        raise registry.request_error(f"Looking up experiment {experiment_name!r}", exc) from exc
    if experiment is None or experiment.lifecycle_stage == "deleted":
        raise _experiment_not_found(registry, repr(experiment_name))
    return str(experiment.experiment_id)


def runs_started_in(
    registry: RegistryCalls, experiment_id: str, window: TimeWindow, run_filter: str
) -> list[Run]:
    """Every active run of the experiment started in ``window`` and matching ``run_filter``,
    oldest first (all pages)."""
    filter_string = " AND ".join(
        clause for clause in (run_filter.strip(), window.run_start_filter()) if clause
    )
    client = registry.client
    return list(
        registry.all_pages(
            lambda token: client.search_runs(
                [experiment_id],
                filter_string=filter_string,
                max_results=SEARCH_PAGE_SIZE,
                order_by=["attributes.start_time ASC"],
                page_token=token,
            ),
            f"Searching runs of experiment {experiment_id} ({filter_string or 'no filter'})",
        )
    )


def source_run(registry: RegistryCalls, version: ModelVersion) -> Run | None:
    """The run that produced ``version``; None when it has no run id or the run no longer
    exists."""
    if not version.run_id:
        return None
    try:
        return registry.client.get_run(version.run_id)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            log.warning(
                "Run %s, source of model %r version %s, does not exist.",
                version.run_id,
                version.name,
                version.version,
            )
            return None
        raise registry.request_error(
            f"Reading run {version.run_id} (source of model {version.name!r} version "
            f"{version.version})",
            exc,
        ) from exc


def source_run_metric(registry: RegistryCalls, version: ModelVersion, metric: str) -> float | None:
    """The latest value of ``metric`` in the run that produced ``version``; None when there is
    no such run (any more) or it never logged ``metric``."""
    run = source_run(registry, version)
    value = None if run is None else run.data.metrics.get(metric)
    return None if value is None else float(value)


def best_version_by_metric(
    registry: RegistryCalls, versions: Iterable[ModelVersion], metric: str, direction: str
) -> tuple[ModelVersion, float] | None:
    """The version whose source run has the best ``metric`` (``direction`` "max" or "min"),
    with that value; ties go to the newest version, versions without it are skipped."""
    if direction not in ("max", "min"):
        raise ValueError(f"metric_direction must be 'max' or 'min', got {direction!r}.")
    scored: list[tuple[float, int, ModelVersion]] = []
    for mv in versions:
        value = source_run_metric(registry, mv, metric)
        if value is None:
            log.info(
                "Model %r version %s: its source run has no metric %r; not a candidate.",
                mv.name,
                mv.version,
                metric,
            )
            continue
        scored.append((value if direction == "max" else -value, int(mv.version), mv))
    if not scored:
        return None
    best = max(scored, key=lambda item: item[:2])
    return best[2], (best[0] if direction == "max" else -best[0])


def _check_experiment_id(registry: RegistryCalls, experiment_id: str) -> None:
    """Check that experiment ``experiment_id`` exists and is active.

    :raises ExperimentNotFoundError: when it does not exist or is deleted.
    :raises MlflowRequestError: when the look-up fails.
    """
    try:
        experiment = registry.client.get_experiment(experiment_id)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise _experiment_not_found(registry, f"id {experiment_id}") from exc
        raise registry.request_error(f"Looking up experiment id {experiment_id}", exc) from exc
    if experiment.lifecycle_stage == "deleted":
        raise _experiment_not_found(registry, f"id {experiment_id}")


def _experiment_not_found(registry: RegistryCalls, experiment: str) -> ExperimentNotFoundError:
    return ExperimentNotFoundError(
        f"Experiment {experiment} does not exist (or is deleted) on {registry.tracking_uri}; "
        "check experiment_name/experiment_id (names are case-sensitive)."
    )
