"""Backfilling registrations: the requests that register the model of every run of a time
window (several runs at a time, each exactly once), skip the runs that already have a
version, and point the aliases at the newest run.

Requests: the run listing (a page per 500 runs), a version search and a logged-model search per
50 runs, then one create per run to register (no run is searched one by one), a second
version search per 50 registered runs, and the aliases once at the end.

Exactly once per (model, run): the first version search finds the runs registered before, by
anyone; each create carries the run's registration key; the second search finds versions that
another registrar with the same keys (a second backfill of the same window, running at the same
time) created for the same runs. The lowest live version of a run (per source) stays, the rule
of :mod:`airflow_mlflow_registry.registration`, and no backfill ever deletes it: each deletes
its own higher version after its creates, and a backfill that starts deletes the higher
duplicates it finds (a stopped backfill's, or one still running). So each row names that
lowest version at the end (a row whose own version another backfill deleted names it as
``already_registered``), and the aliases point at one. A backfill that stops early still
reports.

The report and the keys live in :mod:`airflow_mlflow_registry.backfill`; functions of
:class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`, whose contract
:meth:`MlflowRegistryHook.backfill_registrations` states. mlflow is imported only inside
functions.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.backfill import (
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
from airflow_mlflow_registry.exceptions import MlflowRegistryError, MlflowRequestError
from airflow_mlflow_registry.hooks.aliases import get_version_by_alias, set_model_version_alias
from airflow_mlflow_registry.hooks.model_versions import model_versions_newest_first
from airflow_mlflow_registry.hooks.registry_calls import SEARCH_PAGE_SIZE
from airflow_mlflow_registry.hooks.runs import (
    RUN_IDS_PER_SEARCH,
    experiment_id_of,
    logged_models_of_runs,
    runs_started_in,
    source_of_run,
)
from airflow_mlflow_registry.hooks.version_creation import (
    delete_duplicate_version,
    settle_duplicates,
)
from airflow_mlflow_registry.hooks.version_registration import register_model_version
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from airflow_mlflow_registry.registration import (
    Generation,
    generation_of,
    generation_winner,
    live_versions,
)
from airflow_mlflow_registry.search_filters import model_version_filter
from airflow_mlflow_registry.sources import ResolvedSource, RunSearch
from airflow_mlflow_registry.time_window import TimeWindow
from airflow_mlflow_registry.validation import check_aliases, check_model_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from datetime import datetime

    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion

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
            rows[:] = _settle_overlapping_registrations(registry, model_name, rows)
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
    registered = _lowest_versions(
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
    """:func:`_settle_overlapping_registrations` for a backfill that stopped; when that fails
    too (or is interrupted), the rows as they are, with a warning."""
    try:
        return _settle_overlapping_registrations(registry, model_name, rows)
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
            previous = set_model_version_alias(registry, model_name, alias, newest.version)
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


def _lowest_versions(
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


def _settle_overlapping_registrations(
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
    :mod:`airflow_mlflow_registry.registration`. This backfill deletes its own version when a
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
