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

"""Backfilling registrations: the requests that register the model of every run of a time
window (several runs at a time, each exactly once), skip the runs that already have a
version, and point the aliases at the newest run.

Requests: the run listing (a page per 500 runs), a version search and a logged-model search per
50 runs, then one create per run to register (no run is searched one by one), a second
version search per 50 registered runs, and the aliases once at the end.

Exactly once per (model, run): each create carries the run's registration key, and
:mod:`~airflow_mlflow_registry.hooks.backfill_settling` settles the versions overlapping
backfills made.

The report and the keys live in :mod:`airflow_mlflow_registry.hooks.backfill`; functions of
:class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`, whose contract
:meth:`MlflowRegistryHook.backfill_registrations` states. mlflow is imported only inside
functions.
"""

from __future__ import annotations

import functools
import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.exceptions import MlflowRegistryError
from airflow_mlflow_registry.hooks.aliases import (
    MoveReason,
    get_version_by_alias,
    set_model_version_alias,
)
from airflow_mlflow_registry.hooks.backfill import (
    ALREADY_REGISTERED,
    DEFAULT_CONCURRENCY,
    FAILED,
    NOT_STARTED,
    REGISTERED,
    WOULD_REGISTER,
    BackfillRun,
    backfill_report,
    check_concurrency,
    run_registration_key,
    single_run_filter,
)
from airflow_mlflow_registry.hooks.backfill_settling import (
    lowest_versions,
    settle_overlapping_registrations,
)
from airflow_mlflow_registry.hooks.runs import (
    experiment_id_of,
    logged_models_of_runs,
    runs_started_in,
    source_of_run,
)
from airflow_mlflow_registry.hooks.sources import ResolvedSource, RunSearch
from airflow_mlflow_registry.hooks.version_registration import register_model_version
from airflow_mlflow_registry.utils.time_window import TimeWindow
from airflow_mlflow_registry.utils.validation import check_aliases, check_model_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from datetime import datetime

    from mlflow.entities import Run

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

log = logging.getLogger(__name__)

#: The outcomes of a row naming a version (or, in a dry run, one to be registered).
_HAS_VERSION = (REGISTERED, ALREADY_REGISTERED, WOULD_REGISTER)


def backfill_registrations(
    registry: RegistryCalls,
    model_name: str,
    *,
    experiment_name: str,
    start: datetime,
    end: datetime,
    run_filter: str,
    artifact_path: str,
    aliases: Iterable[str] | None,
    dry_run: bool,
    on_progress: Callable[[int, int], None] | None,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_stopped: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Register the model of every run of ``experiment_name`` started in ``[start, end)`` that
    has no version of ``model_name`` yet, up to ``concurrency`` at a time; return the backfill
    report (rows oldest run first, whatever order the registrations finish in).

    When anything stops the backfill once its runs are listed (an interrupt, a failed
    request), the registrations in flight are waited for, the runs registered so far are
    settled (best effort), the partial report (``stopped`` saying why) is passed to
    ``on_stopped`` (else logged as a warning) and the exception is raised again."""
    model_name = check_model_name(model_name)
    alias_list = check_aliases(aliases)
    concurrency = check_concurrency(concurrency)
    window = TimeWindow(start, end)
    experiment_id = experiment_id_of(registry, experiment_name)
    runs = runs_started_in(registry, experiment_id, window, run_filter)
    rows = [BackfillRun.of(run.info, NOT_STARTED) for run in runs]
    moves: list[dict[str, Any]] = []

    def report(stopped: str | None) -> dict[str, Any]:
        return backfill_report(
            model_name=model_name,
            experiment_name=experiment_name,
            experiment_id=experiment_id,
            window=window,
            run_filter=run_filter,
            dry_run=dry_run,
            runs=rows,
            aliases=moves,
            stopped=stopped,
        )

    settled = dry_run
    try:
        _register_runs(
            registry,
            model_name,
            experiment_id,
            runs,
            rows,
            artifact_path,
            dry_run,
            on_progress,
            concurrency,
        )
        if not dry_run:
            rows[:] = settle_overlapping_registrations(registry, model_name, rows)
            settled = True
        moves.extend(_point_aliases_at_newest_run(registry, model_name, alias_list, rows, dry_run))
    except BaseException as exc:
        if not settled:
            rows[:] = _settle_after_stop(registry, model_name, rows)
        _report_stop(report(_stop_reason(registry, exc)), on_stopped)
        raise
    return report(None)


def _register_runs(
    registry: RegistryCalls,
    model_name: str,
    experiment_id: str,
    runs: list[Run],
    rows: list[BackfillRun],
    artifact_path: str,
    dry_run: bool,
    on_progress: Callable[[int, int], None] | None,
    concurrency: int,
) -> None:
    """Fill ``rows`` (one a run of ``runs``, each ``not_started``) as the runs are found
    registered already or are registered (with ``dry_run``: resolved), up to ``concurrency``
    at a time; a row not reached stays ``not_started``."""
    registered = lowest_versions(
        registry, model_name, [run.info.run_id for run in runs], settle=not dry_run
    )
    pending: list[int] = []
    for index, run in enumerate(runs):
        existing_version = registered.get(run.info.run_id)
        if existing_version is None:
            pending.append(index)
        else:
            rows[index] = BackfillRun.of(run.info, ALREADY_REGISTERED, version=existing_version)

    logged = logged_models_of_runs(
        registry, experiment_id, [runs[index].info.run_id for index in pending]
    )

    def backfill(index: int) -> None:
        run_id = runs[index].info.run_id
        search = RunSearch(
            experiment_id=experiment_id,
            run_filter=single_run_filter(run_id),
            artifact_path=artifact_path,
        )
        source = source_of_run(registry, run_id, experiment_id, search, logged[run_id])
        rows[index] = _backfill_run(registry, model_name, runs[index], source, dry_run)

    done = len(runs) - len(pending)

    def count_one() -> None:
        nonlocal done
        done += 1
        if on_progress is not None:
            on_progress(done, len(runs))

    if on_progress is not None:
        on_progress(done, len(runs))
    if pending:
        # The oldest run goes alone: when the model does not exist yet, it is created once,
        # not raced for by every worker.
        backfill(pending[0])
        count_one()
        run_in_threads(
            [functools.partial(backfill, index) for index in pending[1:]], concurrency, count_one
        )


def _stop_reason(registry: RegistryCalls, exc: BaseException) -> str:
    """One secret-free line saying why a backfill stopped."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, MlflowRegistryError):
        return registry.redact(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {registry.describe(exc)}"


def _settle_after_stop(
    registry: RegistryCalls, model_name: str, rows: list[BackfillRun]
) -> list[BackfillRun]:
    """:func:`settle_overlapping_registrations` for a backfill that stopped; when that fails
    too (or is interrupted), the rows as they are, with a warning."""
    try:
        return settle_overlapping_registrations(registry, model_name, rows)
    except BaseException as exc:  # the stop is raised after the report; this one is logged
        log.warning(
            "Backfill of model %r stopped before it could check its versions against "
            "overlapping backfills (%s): the report names the versions it created.",
            model_name,
            _stop_reason(registry, exc),
        )
        return rows


def _report_stop(
    report: dict[str, Any], on_stopped: Callable[[dict[str, Any]], None] | None
) -> None:
    """Hand the partial ``report`` of a stopped backfill to ``on_stopped``, else log it."""
    if on_stopped is not None:
        on_stopped(report)
        return
    counts = report["counts"]
    log.warning(
        "Backfill of model %r stopped (%s): registered %d, already registered %d, failed %d, "
        "not started %d; run it again to register the rest. Rows: %s",
        report["model_name"],
        report["stopped"],
        counts[REGISTERED],
        counts[ALREADY_REGISTERED],
        counts[FAILED],
        counts[NOT_STARTED],
        report["runs"],
    )


def run_in_threads(
    tasks: Sequence[Callable[[], None]], concurrency: int, on_done: Callable[[], None]
) -> None:
    """Call every task, up to ``concurrency`` at a time on worker threads (in the calling
    thread when ``concurrency`` is 1), in the order given; ``on_done()`` runs in the calling
    thread after each task.

    When a task raises, or the calling thread is interrupted (``KeyboardInterrupt``), the tasks
    not started are cancelled, those running are waited for (none is left half-done by this
    function) and the exception is raised again.
    """
    if concurrency == 1:
        for task in tasks:
            task()
            on_done()
        return
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="backfill")
    try:
        for future in as_completed([executor.submit(task) for task in tasks]):
            future.result()
            on_done()
    except BaseException:
        log.warning("Backfill stopping: waiting for the registrations in flight to finish.")
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)


def _point_aliases_at_newest_run(
    registry: RegistryCalls,
    model_name: str,
    aliases: list[str],
    rows: list[BackfillRun],
    dry_run: bool,
) -> Iterator[dict[str, Any]]:
    """Point each alias at the version of the newest run in ``rows`` (oldest first) that has
    or, in a dry run, would have one; yield one entry per alias once it is pointed:
    ``alias``, ``run_id``, ``version`` (None in a dry run for a run not registered yet),
    ``previous_version``."""
    newest = next((row for row in reversed(rows) if row.outcome in _HAS_VERSION), None)
    if newest is None:
        return
    for alias in aliases:
        if dry_run or newest.version is None:
            holder = get_version_by_alias(registry, model_name, alias)
            previous = None if holder is None else str(holder.version)
        else:
            previous = set_model_version_alias(
                registry,
                model_name,
                alias,
                newest.version,
                MoveReason(MoveKind.BACKFILL, {"run_id": newest.run_id}),
            )
        yield {
            "alias": alias,
            "run_id": newest.run_id,
            "version": newest.version,
            "previous_version": previous,
        }


def _backfill_run(
    registry: RegistryCalls,
    model_name: str,
    run: Run,
    source: ResolvedSource,
    dry_run: bool,
) -> BackfillRun:
    """Register (or, with ``dry_run``, resolve) the model of ``run``, which had no version of
    ``model_name`` when the backfill started; a failure becomes a ``failed`` row."""
    try:
        if dry_run:
            return BackfillRun.of(run.info, WOULD_REGISTER, model_uri=source.model_uri)
        record = register_model_version(
            registry,
            model_name,
            source.model_uri,
            run_id=source.run_id,
            idempotency_key=run_registration_key(model_name, run.info.run_id),
            provenance_tags=source.as_tags(),
            key_looked_up=True,  # by the bulk search; overlaps are settled after the creates
        )
    except MlflowRegistryError as exc:
        log.warning("Backfill of run %s failed: %s", run.info.run_id, exc)
        return BackfillRun.of(run.info, FAILED, error=str(exc))
    outcome = REGISTERED if record["created"] else ALREADY_REGISTERED
    return BackfillRun.of(run.info, outcome, version=record["version"], model_uri=record["source"])
