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

"""Reverse proxies in front of a test MLflow server: :class:`ForwardingProxy`, which forwards
and counts requests, and :class:`BearerProxy`, which also demands a bearer token.

Why the bearer proxy exists: the open-source MLflow server does not check bearer tokens (a
token sent to it is simply ignored), so token authentication is tested through this proxy,
which plays the part of the token-checking gateway that sits in front of MLflow in real
deployments. With ``token=None`` it forwards everything and serves as a request-counting
proxy. ``tests.support.fault_proxy.FaultProxy`` builds on :class:`ForwardingProxy` too.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from tests.support.processes import StartedOnEnter

_HOST = "127.0.0.1"

# Hop-by-hop headers describe one connection and must not be forwarded (RFC 9110, 7.6.1).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True)
class ProxiedRequest:
    """A request received by a proxy: ``path`` includes the query; ``headers`` are the
    end-to-end headers as sent, without ``Host`` and ``Content-Length`` (forwarding sets both).
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``None`` if it was not sent."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def without_headers(self, *names: str) -> ProxiedRequest:
        """A copy without the headers ``names`` (case-insensitive)."""
        dropped = {name.lower() for name in names}
        headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
        return replace(self, headers=headers)


@dataclass(frozen=True)
class ProxyReply:
    """A reply to send to the client; ``Content-Length`` is set from ``body`` when sent."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def error_reply(status: int, error_code: str, message: str) -> ProxyReply:
    """An MLflow-style JSON error reply: ``{"error_code": ..., "message": ...}``."""
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    return ProxyReply(status, [("Content-Type", "application/json")], body)


class ForwardingProxy(StartedOnEnter):
    """Forward HTTP requests on a free 127.0.0.1 port to ``upstream_url`` (plain HTTP).

    Every request is forwarded with its end-to-end headers; ``Host`` is rewritten to the
    upstream's. Subclasses decide per request by overriding :meth:`_reply_to`.

    ``requests_seen`` lists ``(method, path with query)`` of every request received,
    rejected ones included; ``forwarded_count`` counts the ones forwarded upstream;
    ``connections_accepted`` the client (TCP) connections accepted. All are thread-safe.
    Usable as a context manager (``start()`` on entry, ``stop()`` on exit).
    """

    def __init__(self, upstream_url: str) -> None:
        upstream = urlsplit(upstream_url)
        if upstream.scheme != "http" or upstream.hostname is None:
            raise ValueError(f"upstream_url must be http://host:port, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self._upstream_host = upstream.hostname
        self._upstream_port = upstream.port or 80
        self._lock = threading.Lock()
        self._requests_seen: list[tuple[str, str]] = []
        self._forwarded_count = 0
        self._connections_accepted = 0
        self._client_connections: set[socket.socket] = set()
        self._server = self._bind(0)
        self.port: int = self._server.server_address[1]
        self.url = f"http://{_HOST}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def requests_seen(self) -> list[tuple[str, str]]:
        """A copy of ``(method, path)`` of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests_seen)

    @property
    def forwarded_count(self) -> int:
        """How many requests were forwarded upstream so far."""
        with self._lock:
            return self._forwarded_count

    @property
    def connections_accepted(self) -> int:
        """How many client connections were accepted so far (a client reusing a kept-alive
        connection adds none)."""
        with self._lock:
            return self._connections_accepted

    def reset_counts(self) -> None:
        """Forget the requests seen and forwarded and the connections accepted so far."""
        with self._lock:
            self._requests_seen.clear()
            self._forwarded_count = 0
            self._connections_accepted = 0

    def start(self) -> None:
        """Serve in a background thread; returns at once."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket (connections already accepted are
        served until the client closes them).
        """
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def _bind(self, port: int) -> ThreadingHTTPServer:
        """A server listening on ``127.0.0.1:port`` (``0``: a free port), not yet serving."""
        server = ThreadingHTTPServer((_HOST, port), _handler_class(self))
        server.daemon_threads = True
        return server

    def _reply_to(self, request: ProxiedRequest) -> ProxyReply | None:
        """The reply to send for ``request``, or ``None`` to close the client connection
        without any reply. Runs in the connection's thread. Here: forward it.
        """
        return self._forward(request)

    def _forward(self, request: ProxiedRequest) -> ProxyReply:
        """Send ``request`` upstream, count it as forwarded, return the upstream's reply."""
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=120
        )
        try:
            connection.request(
                request.method, request.path, body=request.body, headers=request.headers
            )
            response = connection.getresponse()
            reply = ProxyReply(response.status, response.getheaders(), response.read())
        finally:
            connection.close()
        with self._lock:
            self._forwarded_count += 1
        return reply

    def _close_client_connections(self) -> None:
        """Shut down every open client connection: clients see them closed, so a pooled
        keep-alive connection is not reused.
        """
        with self._lock:
            connections = list(self._client_connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._requests_seen.append((method, path))

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._client_connections.add(connection)
            self._connections_accepted += 1

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._client_connections.discard(connection)


class BearerProxy(ForwardingProxy):
    """A :class:`ForwardingProxy` that, if ``token`` is set, forwards only a request whose
    ``Authorization`` header is exactly ``Bearer <token>`` (without its ``Authorization``
    header); any other gets 401 with the JSON body ``{"error_code": "UNAUTHENTICATED",
    "message": ...}`` and is not forwarded. With ``token=None`` every request is forwarded
    with all its end-to-end headers.
    """

    def __init__(self, upstream_url: str, token: str | None = None) -> None:
        super().__init__(upstream_url)
        self.token = token

    def _reply_to(self, request: ProxiedRequest) -> ProxyReply:
        if self.token is None:
            return self._forward(request)
        if request.header("Authorization") != f"Bearer {self.token}":
            message = "Missing or invalid bearer token (expected 'Authorization: Bearer')."
            return error_reply(401, "UNAUTHENTICATED", message)
        return self._forward(request.without_headers("Authorization"))


def _handler_class(proxy: ForwardingProxy) -> type[BaseHTTPRequestHandler]:
    """Build the request handler bound to ``proxy`` (http.server instantiates it per
    connection).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            proxy._connection_opened(self.connection)

        def finish(self) -> None:
            proxy._connection_closed(self.connection)
            super().finish()

        def _handle(self) -> None:
            # Read the body first, even for rejected requests, so a kept-alive connection
            # stays in sync.
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            proxy._record(self.command, self.path)
            dropped = _HOP_BY_HOP | {"host", "content-length"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
            reply = proxy._reply_to(ProxiedRequest(self.command, self.path, headers, body))
            if reply is None:
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers:
                if name.lower() not in _HOP_BY_HOP | {"content-length", "date", "server"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            try:
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                # The client stopped waiting (its read timeout fired): nobody is left to answer.
                self.close_connection = True

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet; ``proxy.requests_seen`` records the traffic."""

    return Handler
