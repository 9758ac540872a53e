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

"""Running an event trigger's ``run()`` outside a triggerer, for tests against a real MLflow
server: in a background event loop, restarted as the triggerer restarts a watcher whose
``run()`` raised, with an in-memory stand-in for Airflow 3.3's asset state store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pytest
    from airflow.triggers.base import BaseEventTrigger

    from tests.support.bearer_proxy import ForwardingProxy

SEARCH = "/api/2.0/mlflow/model-versions/search"
BY_ALIAS = "/api/2.0/mlflow/registered-models/alias"
WATCH_POLL_SECONDS = 0.3


_WATCHER_DAG = """
import pendulum
from airflow.sdk import AssetWatcher, dag, task

from airflow_mlflow_registry.assets import model_asset
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger

MODEL_ASSET = model_asset(
    "mlflow_default",
    {model!r},
    watchers=[
        AssetWatcher(
            name="new-versions",
            trigger=MlflowRegistryEventTrigger(
                model_name={model!r},
                poll_interval={interval},
                max_events_per_poll={max_events},
            ),
        )
    ],
)


@dag(schedule=[MODEL_ASSET], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def {dag_id}():
    @task
    def handled_versions(triggering_asset_events=None):
        return [
            event.extra["payload"]["version"]
            for events in triggering_asset_events.values()
            for event in events
        ]

    handled_versions()


{dag_id}()
"""


def write_watcher_dag(
    dags_folder: Path,
    dag_id: str,
    model_name: str,
    poll_interval: float,
    max_events_per_poll: int = 1,
) -> Path:
    """Write ``<dag_id>.py`` to ``dags_folder`` and return its path: a DAG scheduled on
    ``model_asset("mlflow_default", model_name)`` watched by an ``MlflowRegistryEventTrigger``
    of ``model_name`` polling every ``poll_interval`` seconds. Its one task,
    ``handled_versions``, returns the version of each event in the run's
    ``triggering_asset_events``, in the order the run received them."""
    source = _WATCHER_DAG.format(
        model=model_name, interval=poll_interval, dag_id=dag_id, max_events=max_events_per_poll
    )
    path = dags_folder / f"{dag_id}.py"
    path.write_text(textwrap.dedent(source))
    return path


class MemoryStateStore:
    """The two calls a trigger makes on Airflow 3.3's asset state store (``aget``, ``aset``),
    kept in a dict. Airflow's store needs a triggerer and its API server; this one lets a test
    fail chosen writes: ``fail_writes`` holds the 1-based numbers of the ``aset`` calls that
    raise ``OSError`` (a lost connection to the API server) without storing."""

    def __init__(self, fail_writes: set[int] | None = None) -> None:
        self.values: dict[str, Any] = {}
        self.fail_writes = set(fail_writes or ())
        self.writes = 0
        self.failed_writes = 0

    async def aget(self, key: str) -> Any:
        return self.values.get(key)

    async def aset(self, key: str, value: Any) -> None:
        self.writes += 1
        if self.writes in self.fail_writes:
            self.failed_writes += 1
            raise OSError(f"injected failure of state-store write {self.writes}")
        self.values[key] = value


class RunningTrigger:
    """``trigger.run()`` in its own event loop in a background thread; ``payloads`` collects
    what it yields. When ``run()`` raises, the exception is appended to ``failures`` and, if
    ``restart`` is given, the trigger it returns runs next (the triggerer re-creates a watcher
    from its frozen kwargs); else the thread ends. Stopped (cancelled) on exit."""

    def __init__(
        self,
        trigger: BaseEventTrigger,
        restart: Callable[[], BaseEventTrigger] | None = None,
    ) -> None:
        self.trigger = trigger
        self.restart = restart
        self.payloads: list[dict[str, Any]] = []
        self.failures: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _consume(self) -> None:
        while True:
            try:
                async for event in self.trigger.run():
                    self.payloads.append(event.payload)
            except Exception as exc:
                self.failures.append(exc)
                if self.restart is None:
                    return
                self.trigger = self.restart()

    def _serve(self) -> None:
        self._task = self._loop.create_task(self._consume())
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)

    def __enter__(self) -> RunningTrigger:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        while self._task is None:
            time.sleep(0.01)
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=30)
        self._loop.close()


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def polls(proxy: ForwardingProxy, path: str = SEARCH, model: str = "") -> int:
    """Requests ``proxy`` received on ``path`` whose query names ``model`` (any with '')."""
    return sum(1 for _, seen in proxy.requests_seen if seen.startswith(path) and model in seen)


def watch(model: str, store: MemoryStateStore | None = None, **options: Any) -> RunningTrigger:
    """A running watch of ``model`` on connection ``watched`` (cursor in ``store``, if given),
    restarted as the triggerer restarts a watcher when its ``run()`` raises."""

    def make() -> MlflowRegistryEventTrigger:
        trigger = MlflowRegistryEventTrigger(
            model_name=model, mlflow_conn_id="watched", poll_interval=WATCH_POLL_SECONDS, **options
        )
        if store is not None:
            trigger.asset_state_store = store  # type: ignore[attr-defined]
        return trigger

    return RunningTrigger(make(), restart=make)


def versions(running: RunningTrigger) -> list[str]:
    return [payload["version"] for payload in running.payloads]


def within_polls(
    proxy: ForwardingProxy, model: str, count: int, condition: Callable[[], bool]
) -> None:
    """Wait until ``condition`` holds or ``count`` more polls of ``model`` were seen."""
    start = polls(proxy, SEARCH, model)
    wait_until(
        lambda: condition() or polls(proxy, SEARCH, model) >= start + count,
        f"{count} polls of {model}",
    )


def pending(version: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A search-reply rewrite reporting ``version`` as PENDING_REGISTRATION."""

    def rewrite(body: dict[str, Any]) -> dict[str, Any]:
        for mv in body.get("model_versions", []):
            if mv["version"] == version:
                mv["status"] = "PENDING_REGISTRATION"
        return body

    return rewrite


class Logs:
    """What was logged so far: the trigger's own logger writes through Airflow's structlog to
    stdout, the poll module's through the standard logging module."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]):
        self._caplog = caplog
        self._capsys = capsys
        self._out = ""
        caplog.set_level(logging.INFO)

    @property
    def text(self) -> str:
        self._out += self._capsys.readouterr().out
        return self._out + self._caplog.text
