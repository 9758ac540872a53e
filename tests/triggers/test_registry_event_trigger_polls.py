"""``MlflowRegistryEventTrigger.run()`` against a real `mlflow server`, through a proxy that
counts requests; registry changes are made with a plain ``MlflowClient``. Outside a triggerer
there is no asset state store: the cursor lives in the trigger (as on Airflow 3.0 to 3.2)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

pytestmark = pytest.mark.compat  # also on each Airflow and MLflow client of the matrix

POLL = 0.3
SEARCH = "/api/2.0/mlflow/model-versions/search"
BY_ALIAS = "/api/2.0/mlflow/registered-models/alias"


class RunningTrigger:
    """``trigger.run()`` in its own event loop in a background thread; ``payloads`` collects
    what it yields. Stopped (cancelled) on exit."""

    def __init__(self, trigger: MlflowRegistryEventTrigger) -> None:
        self.trigger = trigger
        self.payloads: list[dict[str, Any]] = []
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)

    async def _consume(self) -> None:
        async for event in self.trigger.run():
            self.payloads.append(event.payload)

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


@pytest.fixture
def proxy(mlflow_server: MlflowServer, use_connection: UseConnection) -> Iterator[ForwardingProxy]:
    """A counting proxy in front of ``mlflow_server``; connection ``watched`` points at it."""
    with ForwardingProxy(mlflow_server.url) as counting:
        use_connection("watched", counting.url)
        yield counting


def polls(proxy: ForwardingProxy, path: str) -> int:
    return sum(1 for _, seen in proxy.requests_seen if seen.startswith(path))


def test_new_versions_emit_once_each_in_order_with_one_request_per_poll(
    proxy: ForwardingProxy, mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    model = unique("watched")
    add_version(client, model)  # exists before the watch: not an event
    trigger = MlflowRegistryEventTrigger(
        model_name=model, mlflow_conn_id="watched", poll_interval=POLL
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: polls(proxy, SEARCH) >= 3, "three polls")
        assert running.payloads == []  # an unchanged registry emits nothing

        added = [add_version(client, model, tags={"n": str(n)}) for n in range(3)]
        wait_until(lambda: len(running.payloads) == 3, "three events")
        settled = polls(proxy, SEARCH)
        wait_until(lambda: polls(proxy, SEARCH) >= settled + 3, "three more polls")
        payloads = list(running.payloads)
    assert added == ["2", "3", "4"]
    assert [p["version"] for p in payloads] == added
    for n, payload in enumerate(payloads):
        assert payload["event"] == "new_version"
        assert payload["alias"] is None
        assert payload["model_uri"] == f"models:/{model}/{n + 2}"
        assert payload["tags"] == {"n": str(n)}
        assert payload["source"] == f"runs:/{payload['run_id']}/model"
        assert payload["status"] == "READY"
        assert payload["tracking_uri"] == proxy.url
    # Every request of the watch was one bounded search: one per poll.
    assert {path.split("?")[0] for _, path in proxy.requests_seen} == {SEARCH}
    assert all("max_results=100" in path for _, path in proxy.requests_seen)


def test_tag_filter_and_start_after_version(
    proxy: ForwardingProxy, mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    model = unique("watched-tags")
    add_version(client, model, tags={"validated": "true"})
    add_version(client, model)
    trigger = MlflowRegistryEventTrigger(
        model_name=model,
        mlflow_conn_id="watched",
        tags={"validated": "true"},
        poll_interval=POLL,
        start_after_version=0,
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: len(running.payloads) == 1, "the existing validated version")
        third = add_version(client, model, tags={"validated": "true"})
        wait_until(lambda: len(running.payloads) == 2, "the new validated version")
        settled = polls(proxy, SEARCH)
        wait_until(lambda: polls(proxy, SEARCH) >= settled + 3, "three more polls")
        versions = [p["version"] for p in running.payloads]
    assert versions == ["1", third]


def test_alias_moves_and_rollbacks_emit_with_the_previous_version(
    proxy: ForwardingProxy, mlflow_server: MlflowServer
) -> None:
    from mlflow import MlflowClient

    client: MlflowClient = MlflowClient(tracking_uri=mlflow_server.url)
    model = unique("watched-alias")
    first = add_version(client, model, aliases=["production"])
    second = add_version(client, model)
    trigger = MlflowRegistryEventTrigger(
        model_name=model, mlflow_conn_id="watched", alias="production", poll_interval=POLL
    )
    with RunningTrigger(trigger) as running:
        wait_until(lambda: polls(proxy, BY_ALIAS) >= 3, "three polls")
        assert running.payloads == []  # the alias's holder at the start is not a move

        client.set_registered_model_alias(model, "production", second)
        wait_until(lambda: len(running.payloads) == 1, "the move")
        client.set_registered_model_alias(model, "production", first)  # rollback
        wait_until(lambda: len(running.payloads) == 2, "the rollback")
        settled = polls(proxy, BY_ALIAS)
        wait_until(lambda: polls(proxy, BY_ALIAS) >= settled + 3, "three more polls")
        payloads = list(running.payloads)
    assert [(p["event"], p["alias"], p["version"], p["previous_version"]) for p in payloads] == [
        ("alias_moved", "production", second, first),
        ("alias_moved", "production", first, second),
    ]
    assert payloads[1]["aliases"] == ["production"]
    assert {path.split("?")[0] for _, path in proxy.requests_seen} == {BY_ALIAS}


def test_without_a_state_store_a_restarted_trigger_starts_from_the_registry_as_it_is(
    proxy: ForwardingProxy, mlflow_server: MlflowServer
) -> None:
    """Airflow before 3.3 gives a trigger no state store (as here, outside a triggerer): a
    new instance of the same trigger, as a restarted triggerer makes, neither replays what the
    first one emitted nor emits what was registered while none ran."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    model = unique("watched-restart")
    add_version(client, model)

    def watch() -> RunningTrigger:
        return RunningTrigger(
            MlflowRegistryEventTrigger(
                model_name=model, mlflow_conn_id="watched", poll_interval=POLL
            )
        )

    with watch() as first:
        wait_until(lambda: polls(proxy, SEARCH) >= 2, "two polls")
        emitted = add_version(client, model)
        wait_until(lambda: len(first.payloads) == 1, "the event of the first instance")
    assert first.payloads[0]["version"] == emitted

    while_down = add_version(client, model)
    proxy.reset_counts()
    with watch() as second:
        wait_until(lambda: polls(proxy, SEARCH) >= 4, "four polls after the restart")
        assert second.payloads == []  # neither `emitted` again nor `while_down`
        after = add_version(client, model)
        wait_until(lambda: len(second.payloads) == 1, "the event after the restart")
    assert int(while_down) < int(after)
    assert second.payloads[0]["version"] == after
