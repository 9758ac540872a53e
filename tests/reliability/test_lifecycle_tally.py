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

"""Retention under concurrent registry traffic: ``hook.delete_expired_versions`` runs round
after round on one model of a real `mlflow server` while other threads, each with a plain
``MlflowClient``, register new versions, move the ``champion`` alias onto the newest version and
roll ``production`` back onto the versions retention is about to delete. Registrations of an
older batch stay PENDING_REGISTRATION, and halfway some of them become READY or
FAILED_REGISTRATION.

The invariant, checked from what the threads and the server recorded:

- every alias assignment a mover thread recorded still resolves to its version, until that
  thread moves the alias again (each alias has a single writer, so any other state is a loss);
  a loss counts against retention (``lost_aliases``) unless the assignment's request overlapped
  retention's read of the aliases before deleting that version and the delete itself, the
  window MLflow leaves open (an alias set between the server's answer to the read and its
  commit of the delete is deleted with the version); those are counted apart as
  ``window_hits``, with how many of them retention reported in ``aliases_vanished``;
- every alias retention reported in ``aliases_vanished`` was really lost with the version it
  names (``reports_unmatched``): a mover thread saw that loss, or moved the alias onto that
  version inside its delete window (an alias created anew in the window cannot be reported).
  A mover does not see every such loss: when it checks the alias before the delete commits and
  then moves it again, the alias is re-created before its next check;
- every delete was preceded by a read of the aliases since the previous delete
  (``unchecked_deletes``);
- no version is deleted that was PENDING_REGISTRATION, or that had fewer than ``keep_latest``
  newer READY versions registered (requested) before its delete was sent, or that an alias was
  lost with outside the window (``wrongly_deleted``).

Retention reaches the server through a forwarding proxy that records when each of its requests
arrived and was answered (the windows above); the other threads reach the server directly. The
tally is printed in pytest's terminal summary.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.client.mlflow_compat import registry_client_of
from airflow_mlflow_registry.retention import RetentionRule
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.model_versions import add_version, set_version_status, unique
from tests.support.tallies import publish_tally

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.bearer_proxy import ProxiedRequest, ProxyReply
    from tests.support.mlflow_server import MlflowServer

# Three threads and 200 retention runs on a shared 2-core machine: minutes, not seconds.
pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(900)]

ROUNDS = 200
KEEP_LATEST = 3
REGISTRATIONS_PER_ROUND = 3
# Rollbacks pick among the READY versions just below the newest KEEP_LATEST: those retention
# is about to delete.
ROLLBACK_DEPTH = 6
PENDING_LANE = ("1", "2", "3", "4", "5", "6")
BECOME_READY, BECOME_FAILED, STAY_PENDING = PENDING_LANE[:2], PENDING_LANE[2:4], PENDING_LANE[4:]
CHECK_PATH = "/api/2.0/mlflow/registered-models/get"
DELETE_PATH = "/api/2.0/mlflow/model-versions/delete"


def now() -> float:
    return time.monotonic()


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class Exchange:
    """One request retention sent through the proxy: when it arrived and was answered."""

    method: str
    path: str
    version: str | None
    status: int
    span: tuple[float, float]


class TimingProxy(ForwardingProxy):
    """Forwards everything and records an :class:`Exchange` per request."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self.exchanges: list[Exchange] = []

    def _reply_to(self, request: ProxiedRequest) -> ProxyReply | None:
        start = now()
        reply = self._forward(request)
        path = urlsplit(request.path).path
        if request.method == "GET":
            version = parse_qs(urlsplit(request.path).query).get("version", [None])[0]
        else:
            version = json.loads(request.body or b"{}").get("version")
        with self._lock:
            self.exchanges.append(
                Exchange(request.method, path, version, reply.status, (start, now()))
            )
        return reply


@dataclass(frozen=True)
class Assignment:
    alias: str
    version: str
    span: tuple[float, float]


@dataclass
class Traffic:
    """What the other threads did, appended under ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    registered: list[tuple[str, tuple[float, float]]] = field(default_factory=list)
    assignments: list[Assignment] = field(default_factory=list)
    refused: int = 0  # alias moves the registry refused (their version was being deleted)
    # Moves refused with BAD_REQUEST: they may have taken effect before the alias row was
    # deleted with their target (see run_mover).
    ambiguous: list[Assignment] = field(default_factory=list)
    losses: list[tuple[Assignment, str | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def ready_versions(self) -> list[str]:
        with self.lock:
            return [version for version, _ in self.registered]


def alias_holder(client: MlflowClient, model: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException as exc:
        # A missing alias; or the version it pointed at was deleted (with the alias) between
        # the server's read of the alias and its read of the version.
        if exc.error_code not in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            raise
        return None


def run_registrar(
    client: MlflowClient, model: str, source: tuple[str, str], permits: threading.Semaphore,
    stop: threading.Event, traffic: Traffic,
) -> None:  # fmt: skip
    while not stop.is_set():
        if not permits.acquire(timeout=0.1):
            continue
        start = now()
        version = client.create_model_version(model, source[0], run_id=source[1]).version
        with traffic.lock:
            traffic.registered.append((str(version), (start, now())))


def run_mover(
    client: MlflowClient, model: str, alias: str, choose: Callable[[], str | None],
    stop: threading.Event, traffic: Traffic,
) -> None:  # fmt: skip
    """Move ``alias`` onto ``choose()`` again and again; before each move, check that the
    alias still points where this thread last put it."""
    from mlflow.exceptions import MlflowException

    # One request per move (MlflowClient's own method first reads the model to rule out
    # prompts): the recorded span is then that of the request that sets the alias.
    registry_client = registry_client_of(client)
    last: Assignment | None = None
    while not stop.is_set():
        if last is not None:
            holder = alias_holder(client, model, alias)
            if holder != last.version:
                with traffic.lock:
                    traffic.losses.append((last, holder))
                last = None
        target = choose()
        if target is None:
            time.sleep(0.01)
            continue
        start = now()
        try:
            registry_client.set_registered_model_alias(model, alias, target)
        except MlflowException as exc:
            # The target version was deleted before the move (RESOURCE_DOES_NOT_EXIST), or the
            # alias row was deleted with the version it pointed at while the server updated it
            # (BAD_REQUEST: "expected to update 1 row(s); 0 were matched"). Either way the
            # mover is told; the alias's last assignment stays what the next check compares.
            if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "BAD_REQUEST"):
                raise
            with traffic.lock:
                traffic.refused += 1
            if exc.error_code == "BAD_REQUEST":
                with traffic.lock:
                    traffic.ambiguous.append(Assignment(alias, target, (start, now())))
            continue
        last = Assignment(alias, target, (start, now()))
        with traffic.lock:
            traffic.assignments.append(last)
        time.sleep(0.02)


def guarded(target: Callable[..., None], traffic: Traffic) -> Callable[..., None]:
    def run(*args: Any) -> None:
        try:
            target(*args)
        except Exception as exc:
            with traffic.lock:
                traffic.errors.append(f"{target.__name__}: {exc!r}")

    return run


@pytest.fixture
def timing_proxy(mlflow_server: MlflowServer) -> Iterator[TimingProxy]:
    with TimingProxy(mlflow_server.url) as proxy:
        yield proxy


def test_retention_under_concurrent_registrations_alias_moves_and_rollbacks(
    mlflow_server: MlflowServer,
    plain_client: MlflowClient,
    timing_proxy: TimingProxy,
    use_connection: UseConnection,
    summary_lines: list[str],
) -> None:
    model = unique("lifecycle")
    add_version(plain_client, model)
    first = plain_client.get_model_version(model, "1")
    source = (first.source, first.run_id)
    for _ in PENDING_LANE[1:]:
        plain_client.create_model_version(model, source[0], run_id=source[1])
    for version in PENDING_LANE:
        set_version_status(mlflow_server.backend_store_uri, model, version, "PENDING_REGISTRATION")
    use_connection("lifecycle", timing_proxy.url, timeout=30, max_retries=3)
    hook = MlflowRegistryHook(mlflow_conn_id="lifecycle")
    rule = RetentionRule.of(keep_latest=KEEP_LATEST)

    traffic = Traffic()
    stop = threading.Event()
    permits = threading.Semaphore(0)
    rng = random.Random(19)

    def newest() -> str | None:
        ready = traffic.ready_versions()
        return ready[-1] if ready else None

    def about_to_go() -> str | None:
        candidates = traffic.ready_versions()[-(KEEP_LATEST + ROLLBACK_DEPTH) : -KEEP_LATEST]
        return rng.choice(candidates) if candidates else None

    threads = [
        threading.Thread(
            target=guarded(run_registrar, traffic),
            args=(mlflow_server.client(), model, source, permits, stop, traffic),
        ),
        threading.Thread(
            target=guarded(run_mover, traffic),
            args=(mlflow_server.client(), model, "champion", newest, stop, traffic),
        ),
        threading.Thread(
            target=guarded(run_mover, traffic),
            args=(mlflow_server.client(), model, "production", about_to_go, stop, traffic),
        ),
    ]
    for thread in threads:
        thread.start()
    runs: list[tuple[tuple[float, float], dict[str, Any]]] = []
    try:
        for round_number in range(ROUNDS):
            if round_number == ROUNDS // 2:  # registrations in flight complete or fail
                for version in BECOME_READY:
                    set_version_status(mlflow_server.backend_store_uri, model, version, "READY")
                for version in BECOME_FAILED:
                    set_version_status(
                        mlflow_server.backend_store_uri, model, version, "FAILED_REGISTRATION"
                    )
            permits.release(REGISTRATIONS_PER_ROUND)
            start = now()
            record = hook.delete_expired_versions(model, rule)
            runs.append(((start, now()), record))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert traffic.errors == []
    assert not any(thread.is_alive() for thread in threads)

    # The last assignment of each alias must still hold.
    for alias in ("champion", "production"):
        mine = [a for a in traffic.assignments if a.alias == alias]
        holder = alias_holder(plain_client, model, alias)
        reported = any(assignment == mine[-1] for assignment, _ in traffic.losses)
        if mine and holder != mine[-1].version and not reported:
            traffic.losses.append((mine[-1], holder))

    deleted = [entry["version"] for _, record in runs for entry in record["deleted"]]
    failed_deleted = [v for _, record in runs for v in record["failed_registrations_deleted"]]
    exchanges = sorted(timing_proxy.exchanges, key=lambda exchange: exchange.span[0])
    # A deleted version's window: from the arrival of retention's read of the aliases just
    # before its delete to the answer to the delete (the delete alone if no read came between
    # it and the previous delete).
    windows: dict[str, tuple[float, float]] = {}
    read_since_last_delete: float | None = None
    unchecked_deletes = 0
    for exchange in exchanges:
        if exchange.path == CHECK_PATH:
            read_since_last_delete = exchange.span[0]
        elif exchange.path == DELETE_PATH:
            assert exchange.version is not None
            if exchange.status == 200:
                unchecked_deletes += read_since_last_delete is None
                start = (
                    exchange.span[0] if read_since_last_delete is None else read_since_last_delete
                )
                windows[exchange.version] = (start, exchange.span[1])
            read_since_last_delete = None
    assert sorted(windows) == sorted(deleted)

    # What retention reported as vanished across its deletes: each one must be a real loss.
    reports = {
        (entry["alias"], entry["while_deleting"])
        for _, record in runs
        for entry in record["aliases_vanished"]
    }
    lost_pairs = {(assignment.alias, assignment.version) for assignment, _ in traffic.losses}
    # A report is also a real loss when a mover moved the alias onto the version being deleted
    # inside that delete's window, whether the move was answered (the mover may have checked
    # the alias before the delete committed and moved it again, re-creating it, without ever
    # seeing the loss) or refused with BAD_REQUEST (see run_mover).
    moves = [*traffic.assignments, *traffic.ambiguous]
    moved_in_window = {
        (move.alias, move.version)
        for move in moves
        if move.version in windows and overlap(move.span, windows[move.version])
    }
    unmatched = sorted(reports - lost_pairs - moved_in_window)
    reports_unmatched = len(unmatched)
    window_hits = window_hits_reported = lost_aliases = 0
    wrongly_deleted: set[str] = set()
    for assignment, _holder in traffic.losses:
        window = windows.get(assignment.version)
        if window is not None and overlap(assignment.span, window):
            window_hits += 1
            window_hits_reported += (assignment.alias, assignment.version) in reports
        else:
            lost_aliases += 1
            if window is not None:
                wrongly_deleted.add(assignment.version)
    wrongly_deleted.update(version for version in STAY_PENDING if version in deleted)
    with traffic.lock:
        registered = list(traffic.registered)
    for version, window in windows.items():
        newer_ready = [v for v, span in registered if int(v) > int(version) and span[0] < window[0]]
        if len(newer_ready) < KEEP_LATEST:
            wrongly_deleted.add(version)

    # The threads overlapped retention: rounds during which each kind of traffic was in flight.
    def overlapping_rounds(spans: list[tuple[float, float]]) -> int:
        return sum(any(overlap(run_span, span) for span in spans) for run_span, _ in runs)

    with_registrations = overlapping_rounds([span for _, span in registered])
    champion = [a.span for a in traffic.assignments if a.alias == "champion"]
    rollbacks = [a.span for a in traffic.assignments if a.alias == "production"]
    with_moves, with_rollbacks = overlapping_rounds(champion), overlapping_rounds(rollbacks)
    kept_for_alias = sum(
        entry["reason"].startswith("alias") for _, record in runs for entry in record["protected"]
    )
    left = {mv.version for mv in plain_client.search_model_versions(f"name = '{model}'")}

    tally_line = (
        f"lifecycle tally (retention): rounds={len(runs)} registrations={len(registered)} "
        f"deletions={len(deleted)} failed_registrations_deleted={len(failed_deleted)} "
        f"pending_kept={sum(v in left for v in STAY_PENDING)}/{len(STAY_PENDING)} "
        f"alias_moves={len(champion)} rollbacks={len(rollbacks)} "
        f"moves_refused={traffic.refused} kept_for_alias={kept_for_alias} "
        f"rounds_overlapping(registrations/moves/rollbacks)="
        f"{with_registrations}/{with_moves}/{with_rollbacks} "
        f"unchecked_deletes={unchecked_deletes} "
        f"window_hits={window_hits} (reported {window_hits_reported}) "
        f"reports_unmatched={reports_unmatched} "
        f"wrongly_deleted={len(wrongly_deleted)} "
        f"lost_aliases={lost_aliases}"
    )
    publish_tally(summary_lines, tally_line)

    assert len(runs) == ROUNDS
    # On failure: each unmatched report's delete window and the moves onto its version.
    assert unmatched == [], {
        pair: (windows.get(pair[1]), [m for m in moves if (m.alias, m.version) == pair])
        for pair in unmatched
    }
    assert (len(wrongly_deleted), lost_aliases, unchecked_deletes) == (0, 0, 0)
    assert set(STAY_PENDING) <= left
    assert sorted(failed_deleted) == sorted(BECOME_FAILED)
    assert set(BECOME_READY) <= set(deleted)
    # The newest KEEP_LATEST registrations are still there.
    assert {version for version, _ in registered[-KEEP_LATEST:]} <= left
    assert len(deleted) == len(set(deleted)) > 0
    assert min(with_registrations, with_moves, with_rollbacks) > 0
    assert kept_for_alias > 0  # rollbacks pinned versions the rule let go
