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

"""A forwarding proxy that records when each request was in flight and can hold chosen requests
until the test lets them go.

Why it exists: a test of concurrent registrations must show that the work really overlapped.
CLI processes spend seconds importing MLflow, so two processes started together may well run
one after the other. Placed between each process and the server (one proxy per process, all in
the test's own process and clock), this proxy records the window of every request (received,
reply ready) so that a test can assert that windows intersect, and holds a chosen request (the
n-th create, the first search) until a barrier or event the test controls releases it, so that
the interleaving the test needs happens on every run instead of by luck.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.support.bearer_proxy import ForwardingProxy

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from tests.support.bearer_proxy import ProxiedRequest, ProxyReply

CREATE_VERSION = ("POST", "/model-versions/create")
SEARCH_VERSIONS = ("GET", "/model-versions/search")
DELETE_VERSION = ("DELETE", "/model-versions/delete")

#: How long a held request waits for its release before the proxy gives up and fails the test.
HOLD_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class Window:
    """One request: ``start`` when the proxy received it, ``end`` when its reply was ready
    (``time.monotonic()`` of the test process, comparable across proxies)."""

    method: str
    path: str
    start: float
    end: float


def span(windows: Sequence[Window]) -> tuple[float, float]:
    """(first start, last end) of ``windows``, which must not be empty."""
    assert windows, "no request of this kind was recorded"
    return min(w.start for w in windows), max(w.end for w in windows)


def intersect(*spans: tuple[float, float]) -> bool:
    """Whether all ``spans`` share at least one instant."""
    return max(start for start, _ in spans) < min(end for _, end in spans)


@dataclass
class _Hold:
    method: str
    path_contains: str
    occurrences: frozenset[int]
    wait: Callable[[], object]
    seen: int = 0


class GateProxy(ForwardingProxy):
    """A :class:`~tests.support.bearer_proxy.ForwardingProxy` that records a :class:`Window`
    per request and holds the requests chosen with :meth:`hold`. Thread-safe."""

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self._windows: list[Window] = []
        self._holds: list[_Hold] = []
        self._answered = 0

    def hold(
        self,
        kind: tuple[str, str],
        occurrences: Iterable[int],
        wait: Callable[[], object],
    ) -> None:
        """Before forwarding the ``occurrences`` (1-based) of the requests of ``kind``
        (``(method, path fragment)``, e.g. :data:`SEARCH_VERSIONS`) that this proxy receives,
        call ``wait()`` in the request's thread (e.g. a ``threading.Barrier``'s or
        ``threading.Event``'s ``wait`` with a timeout); it should raise, or return false, when
        the release never comes, and the request is then answered with an error."""
        method, path_contains = kind
        with self._lock:
            self._holds.append(_Hold(method, path_contains, frozenset(occurrences), wait))

    @property
    def in_flight(self) -> int:
        """How many requests received are not answered yet (held, or still at the server)."""
        with self._lock:
            return len(self._requests_seen) - self._answered

    def windows(self, kind: tuple[str, str]) -> list[Window]:
        """The windows of the requests of ``kind`` answered so far, in the order they ended."""
        method, path_contains = kind
        with self._lock:
            return [w for w in self._windows if w.method == method and path_contains in w.path]

    def _reply_to(self, request: ProxiedRequest) -> ProxyReply | None:
        start = time.monotonic()
        try:
            for wait in self._waits_for(request):
                if wait() is False:
                    return None  # the release never came: the client sees a dropped connection
            reply = self._forward(request)
        finally:
            with self._lock:
                self._answered += 1
        window = Window(request.method, request.path, start, time.monotonic())
        with self._lock:
            self._windows.append(window)
        return reply

    def _waits_for(self, request: ProxiedRequest) -> list[Callable[[], object]]:
        waits = []
        with self._lock:
            for hold in self._holds:
                if request.method == hold.method and hold.path_contains in request.path:
                    hold.seen += 1
                    if hold.seen in hold.occurrences:
                        waits.append(hold.wait)
        return waits


def barrier_wait(barrier: threading.Barrier) -> Callable[[], bool]:
    """A ``wait`` for :meth:`GateProxy.hold`: pass ``barrier``, False when it breaks or times
    out."""

    def wait() -> bool:
        try:
            barrier.wait(HOLD_TIMEOUT_SECONDS)
        except threading.BrokenBarrierError:
            return False
        return True

    return wait


def event_wait(event: threading.Event) -> Callable[[], bool]:
    """A ``wait`` for :meth:`GateProxy.hold`: until ``event`` is set, False on time-out."""
    return lambda: event.wait(HOLD_TIMEOUT_SECONDS)
