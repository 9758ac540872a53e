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

"""Settling a backfill's versions against overlapping backfills of the same runs.

Exactly once per (model, run): the first version search finds the runs registered before, by
anyone; each create carries the run's registration key; the second search finds versions that
another registrar with the same keys (a second backfill of the same window, running at the same
time) created for the same runs. The lowest live version of a run (per source) stays, the rule
of :mod:`airflow_mlflow_registry.hooks.registration`, and no backfill ever deletes it: each deletes
its own higher version after its creates, and a backfill that starts deletes the higher
duplicates it finds (a stopped backfill's, or one still running). So each row names that
lowest version at the end (a row whose own version another backfill deleted names it as
``already_registered``), and the aliases point at one. A backfill that stops early still
reports.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks.backfill import (
    ALREADY_REGISTERED,
    FAILED,
    REGISTERED,
    BackfillRun,
    run_registration_key,
)
from airflow_mlflow_registry.hooks.model_versions import model_versions_newest_first
from airflow_mlflow_registry.hooks.registration import (
    generation_of,
    generation_winner,
    live_versions,
)
from airflow_mlflow_registry.hooks.registry_calls import SEARCH_PAGE_SIZE
from airflow_mlflow_registry.hooks.runs import RUN_IDS_PER_SEARCH
from airflow_mlflow_registry.hooks.version_creation import (
    delete_duplicate_version,
    settle_duplicates,
)
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from airflow_mlflow_registry.utils.search_filters import model_version_filter

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registration import Generation
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

log = logging.getLogger(__name__)


def _versions_of_runs(
    registry: RegistryCalls, model_name: str, run_ids: list[str]
) -> dict[str, list[ModelVersion]]:
    """The versions of ``model_name`` registered from each of ``run_ids``, for those that have
    any (one ``run_id IN (...)`` search per chunk of run ids)."""
    name_filter = model_version_filter(model_name)
    found: dict[str, list[ModelVersion]] = {}
    for first in range(0, len(run_ids), RUN_IDS_PER_SEARCH):
        chunk = run_ids[first : first + RUN_IDS_PER_SEARCH]
        quoted = ", ".join(f"'{run_id}'" for run_id in chunk)
        versions = model_versions_newest_first(
            registry, f"{name_filter} AND run_id IN ({quoted})", SEARCH_PAGE_SIZE
        )
        for mv in versions:
            if mv.name == model_name and mv.run_id:
                found.setdefault(mv.run_id, []).append(mv)
    return found


def lowest_versions(
    registry: RegistryCalls, model_name: str, run_ids: list[str], *, settle: bool
) -> dict[str, str]:
    """Run id to the lowest version of ``model_name`` registered from it, for those of
    ``run_ids`` that have one. With ``settle``, duplicates that overlapping backfills left (one
    stopped before it settled) are deleted first (:func:`settle_duplicates`: per source, the
    lowest live version carrying the run's key stays; versions without the key, registered by
    hand or by a DAG, are left alone). A delete that fails is logged, and the backfill goes on."""
    found = _versions_of_runs(registry, model_name, run_ids)
    if settle:
        for run_id, versions in found.items():
            _settle_leftover_duplicates(registry, model_name, run_id, versions)
    return {
        run_id: str(min(int(mv.version) for mv in versions)) for run_id, versions in found.items()
    }


def _settle_leftover_duplicates(
    registry: RegistryCalls, model_name: str, run_id: str, versions: list[ModelVersion]
) -> None:
    """Per source, keep the lowest live version of ``versions`` carrying run ``run_id``'s key
    and delete the others (:func:`settle_duplicates`); a failed delete is logged."""
    keyed = _keyed_versions(model_name, run_id, versions)
    winners: dict[Generation, ModelVersion] = {}
    for mv in keyed:
        winners.setdefault(generation_of(mv), mv)
    try:
        for generation, winner in winners.items():
            settle_duplicates(registry, model_name, keyed, generation, winner)
    except MlflowRequestError as exc:
        log.warning("Run %s: a duplicate version stays: %s", run_id, exc)


def _keyed_versions(
    model_name: str, run_id: str, versions: Iterable[ModelVersion]
) -> list[ModelVersion]:
    """The live versions among ``versions`` that carry run ``run_id``'s backfill key, lowest
    first."""
    key = run_registration_key(model_name, run_id)
    return live_versions(mv for mv in versions if (mv.tags or {}).get(REGISTRATION_KEY_TAG) == key)


def settle_overlapping_registrations(
    registry: RegistryCalls, model_name: str, rows: list[BackfillRun]
) -> list[BackfillRun]:
    """After the creates: search again the versions of the runs this backfill registered, so
    that each of their rows names the version that stays (:func:`_settled_row`). Returns the
    rows; the others are returned as they are."""
    registered = [row.run_id for row in rows if row.outcome == REGISTERED]
    found = _versions_of_runs(registry, model_name, registered)
    return [
        _settled_row(registry, model_name, row, found.get(row.run_id, ()))
        if row.outcome == REGISTERED
        else row
        for row in rows
    ]


def _settled_row(
    registry: RegistryCalls, model_name: str, row: BackfillRun, versions: Iterable[ModelVersion]
) -> BackfillRun:
    """The row of a run this backfill registered, given the run's ``versions`` found after the
    creates.

    Several backfills of the same runs at the same time may each create a version of a run;
    the lowest live version carrying the run's key (per source) stays, as everywhere in
    :mod:`airflow_mlflow_registry.hooks.registration`. This backfill deletes its own version when a
    lower one of the same source exists (kept while that one is not READY yet), and the row
    becomes ``already_registered``, naming the lower one (``failed``, naming both, when the
    delete fails). When its own version no longer exists, a backfill that started later deleted
    it as a higher duplicate: the row becomes ``already_registered``, naming the lowest live
    version carrying the key, or ``failed`` when there is none. The version a row names is the
    lowest of its kind, which no backfill deletes.
    """
    keyed = _keyed_versions(model_name, row.run_id, versions)
    own = next((mv for mv in keyed if str(mv.version) == row.version), None)
    if own is None:
        if not keyed:
            error = (
                f"Version {row.version} was deleted while the backfill ran, and no other live "
                "version carries the run's key; run the backfill again."
            )
            return dataclasses.replace(row, outcome=FAILED, error=error)
        log.warning(
            "Run %s: model %r version %s was deleted by an overlapping backfill (a duplicate "
            "of version %s); reporting version %s.",
            row.run_id,
            model_name,
            row.version,
            keyed[0].version,
            keyed[0].version,
        )
        return dataclasses.replace(row, outcome=ALREADY_REGISTERED, version=str(keyed[0].version))
    winner = generation_winner(keyed, generation_of(own))
    if winner is None or winner.version == own.version:
        return row
    if winner.status != "READY":
        log.warning(
            "Run %s: model %r version %s duplicates version %s, which is %s; keeping both.",
            row.run_id,
            model_name,
            own.version,
            winner.version,
            winner.status,
        )
        return row
    log.warning(
        "Run %s: an overlapping registration with the same key registered model %r version "
        "%s too; deleting this backfill's version %s.",
        row.run_id,
        model_name,
        winner.version,
        own.version,
    )
    try:
        delete_duplicate_version(registry, model_name, str(own.version))
    except MlflowRequestError as exc:
        error = f"Version {own.version} duplicates version {winner.version}: {exc}"
        return dataclasses.replace(row, outcome=FAILED, error=error)
    return dataclasses.replace(row, outcome=ALREADY_REGISTERED, version=str(winner.version))
