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

"""A reverse proxy that injects transport faults on chosen requests to a test MLflow server.

Why it exists: MLflow's HTTP layer retries every method, POST included, on 5xx replies,
connection errors and read errors (timeouts, connections closed before the reply). A POST
the server already committed (``create_model_version``) can therefore run twice, and with
retries off the call fails although its effect exists. Tests must prove exactly-once
registration when a reply is lost, when a 503 comes before or after the server committed,
when the client times out, and when connections are refused. A real ``mlflow server``
cannot be made to do any of this on demand; this proxy, placed between the client and the
server, can. It also fakes replies the open-source server never produces (model-version
statuses such as ``PENDING_REGISTRATION`` or ``FAILED_REGISTRATION``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from tests.support.bearer_proxy import ForwardingProxy, ProxyReply, error_reply

if TYPE_CHECKING:
    from tests.support.bearer_proxy import ProxiedRequest

FaultKind = Literal[
    "drop_reply",
    "503_after_forward",
    "503_before_forward",
    "500_after_forward",
    "500_before_forward",
    "400_before_forward",
    "401_before_forward",
    "403_before_forward",
    "delay_reply",
    "rewrite_json",
]
JsonRewrite = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass
class _Fault:
    method: str
    path_contains: str
    kind: FaultKind
    remaining: int | None  # None: until clear_faults()
    seconds: float
    rewrite: JsonRewrite | None
    body_contains: bytes
    after_forward: Callable[[], object] | None = None

    def matches(self, request: ProxiedRequest) -> bool:
        return (
            self.remaining != 0
            and request.method == self.method
            and self.path_contains in request.path
            and self.body_contains in request.body
        )


class FaultProxy(ForwardingProxy):
    """A :class:`ForwardingProxy` (same ``url``, ``port``, ``start``/``stop``, context
    manager, ``requests_seen``, ``forwarded_count``) in front of ``upstream_url`` that
    injects the faults added with :meth:`add_fault` and refuses connections on demand.

    Requests that match no pending fault are forwarded unchanged. All methods are
    thread-safe.
    """

    def __init__(self, upstream_url: str) -> None:
        super().__init__(upstream_url)
        self._faults: list[_Fault] = []
        self._faults_injected = 0
        self._refusing = False
        self._listener_lock = threading.Lock()

    @property
    def faults_injected(self) -> int:
        """How many faults added with :meth:`add_fault` have fired so far."""
        with self._lock:
            return self._faults_injected

    def add_fault(
        self,
        method: str,
        path_contains: str,
        kind: FaultKind,
        times: int | None = 1,
        *,
        seconds: float | None = None,
        rewrite: JsonRewrite | None = None,
        body_contains: str = "",
        after_forward: Callable[[], object] | None = None,
    ) -> None:
        """Inject fault ``kind`` into the next ``times`` requests (``None``: every one until
        :meth:`clear_faults`) whose method is ``method`` (case-insensitive), whose path
        (query included) contains ``path_contains`` and whose body contains ``body_contains``
        (e.g. ``'"version": "3"'`` for one version's JSON request).

        Kinds, and what a client sees:

        - ``"drop_reply"``: forwarded (the server commits), then the connection is closed
          without a reply: ``http.client.RemoteDisconnected`` (``requests``:
          ``ConnectionError``).
        - ``"503_after_forward"``: forwarded, the server's reply discarded, 503 sent with
          ``{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected"}``.
        - ``"503_before_forward"``: the same 503, but nothing is forwarded.
        - ``"500_after_forward"`` / ``"500_before_forward"``: the same, with 500 and
          ``{"error_code": "INTERNAL_ERROR", "message": "injected"}`` (a server error).
        - ``"400_before_forward"``: nothing forwarded, 400 sent with
          ``{"error_code": "BAD_REQUEST", "message": "injected"}`` (what MLflow's SQL store
          answers when a concurrent insert of the same row wins, e.g. an alias).
        - ``"401_before_forward"``: nothing forwarded, 401 sent with
          ``{"error_code": "UNAUTHENTICATED", "message": "injected"}`` (credentials refused).
        - ``"403_before_forward"``: nothing forwarded, 403 sent with
          ``{"error_code": "PERMISSION_DENIED", "message": "injected"}`` (a permanent error).
        - ``"delay_reply"``: forwarded, then the reply is held for ``seconds`` (required),
          so a shorter client read timeout fires after the server committed.
        - ``"rewrite_json"``: forwarded, the reply's JSON object passed to ``rewrite``
          (required) and its result sent instead (same status and headers).

        ``after_forward``, for the kinds that forward, is called once the server has
        answered (so committed) and before the client gets anything: e.g. to kill the server
        with SIGKILL after a create committed and before its reply, with ``"drop_reply"``.

        When several pending faults match a request, the one added first fires. Raises
        ``ValueError`` for an unknown ``kind``, ``times < 1``, a missing required option or
        an option the kind does not take, or ``seconds < 0``.
        """
        if kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {get_args(FaultKind)}")
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 or None (no limit), got {times}")
        if kind == "delay_reply" and (seconds is None or seconds < 0):
            raise ValueError(f"'delay_reply' needs seconds >= 0 (how long to hold), got {seconds}")
        if kind != "delay_reply" and seconds is not None:
            raise ValueError(f"seconds applies to 'delay_reply' only, not to {kind!r}")
        if kind == "rewrite_json" and rewrite is None:
            raise ValueError("'rewrite_json' needs rewrite (a callable from dict to dict)")
        if kind != "rewrite_json" and rewrite is not None:
            raise ValueError(f"rewrite applies to 'rewrite_json' only, not to {kind!r}")
        if after_forward is not None and kind.endswith("before_forward"):
            raise ValueError(f"after_forward needs a kind that forwards, not {kind!r}")
        fault = _Fault(
            method.upper(),
            path_contains,
            kind,
            times,
            seconds or 0.0,
            rewrite,
            body_contains.encode(),
            after_forward,
        )
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Drop every pending fault; ``faults_injected`` keeps its count."""
        with self._lock:
            self._faults.clear()

    def reset_counts(self) -> None:
        """Forget the requests seen and forwarded and the faults injected so far."""
        super().reset_counts()
        with self._lock:
            self._faults_injected = 0

    def refuse_connections(self, refuse: bool) -> None:
        """With ``True``, close the listening socket, so a new connection is refused
        (``ConnectionRefusedError``; ``requests``: ``ConnectionError``), and shut down the
        connections already open, so a client's pooled keep-alive connection is not reused
        (a request in flight on one loses its reply). With ``False``, listen again on the
        same ``port``; raises ``OSError`` if another socket took it meanwhile. Call it on a
        started proxy; calling it again with the same value does nothing.
        """
        with self._listener_lock:
            if refuse == self._refusing:
                return
            if refuse:
                self.stop()
                self._close_client_connections()
            else:
                self._server = self._bind(self.port)
                self.start()
            self._refusing = refuse

    def _reply_to(self, request: ProxiedRequest) -> ProxyReply | None:
        fault = self._take_fault(request)
        if fault is None:
            return self._forward(request)
        if fault.kind == "503_before_forward":
            return _unavailable()
        if fault.kind == "500_before_forward":
            return error_reply(500, "INTERNAL_ERROR", "injected")
        if fault.kind == "400_before_forward":
            return error_reply(400, "BAD_REQUEST", "injected")
        if fault.kind == "401_before_forward":
            return error_reply(401, "UNAUTHENTICATED", "injected")
        if fault.kind == "403_before_forward":
            return error_reply(403, "PERMISSION_DENIED", "injected")
        if fault.kind == "rewrite_json":
            # The rewrite needs the JSON itself, not a compressed encoding of it.
            reply = self._forward(request.without_headers("Accept-Encoding"))
        else:
            reply = self._forward(request)
        if fault.after_forward is not None:
            fault.after_forward()
        if fault.kind == "drop_reply":
            return None
        if fault.kind == "503_after_forward":
            return _unavailable()
        if fault.kind == "500_after_forward":
            return error_reply(500, "INTERNAL_ERROR", "injected")
        if fault.kind == "delay_reply":
            time.sleep(fault.seconds)
            return reply
        assert fault.rewrite is not None  # add_fault requires it for "rewrite_json"
        body = json.dumps(fault.rewrite(json.loads(reply.body))).encode()
        return ProxyReply(reply.status, reply.headers, body)

    def _take_fault(self, request: ProxiedRequest) -> _Fault | None:
        """The first pending fault matching ``request``, with one use consumed, or ``None``."""
        with self._lock:
            fault = next((f for f in self._faults if f.matches(request)), None)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
            self._faults_injected += 1
            return fault


def _unavailable() -> ProxyReply:
    return error_reply(503, "TEMPORARILY_UNAVAILABLE", "injected")
