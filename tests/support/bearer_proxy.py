"""A reverse proxy that demands a bearer token and counts the requests it forwards.

Why it exists: the open-source MLflow server does not check bearer tokens (a token sent to
it is simply ignored), so token authentication is tested through this proxy, which plays
the part of the token-checking gateway that sits in front of MLflow in real deployments.
With ``token=None`` it forwards everything and serves as a request-counting proxy.
"""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from types import TracebackType

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


class BearerProxy:
    """Forward HTTP requests on a free 127.0.0.1 port to ``upstream_url`` (plain HTTP).

    If ``token`` is set, only a request whose ``Authorization`` header is exactly
    ``Bearer <token>`` is forwarded (without its ``Authorization`` header); any other gets
    401 with the JSON body ``{"error_code": "UNAUTHENTICATED", "message": ...}`` and is not
    forwarded. With ``token=None`` every request is forwarded with all its end-to-end
    headers. ``Host`` is always rewritten to the upstream's.

    ``requests_seen`` lists ``(method, path with query)`` of every request received,
    rejected ones included; ``forwarded_count`` counts the forwarded ones. Both are
    thread-safe. Usable as a context manager.
    """

    def __init__(self, upstream_url: str, token: str | None = None) -> None:
        upstream = urlsplit(upstream_url)
        if upstream.scheme != "http" or upstream.hostname is None:
            raise ValueError(f"upstream_url must be http://host:port, got {upstream_url!r}")
        self.upstream_url = upstream_url
        self.token = token
        self._upstream_host = upstream.hostname
        self._upstream_port = upstream.port or 80
        self._lock = threading.Lock()
        self._requests_seen: list[tuple[str, str]] = []
        self._forwarded_count = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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

    def reset_counts(self) -> None:
        """Forget the requests seen and forwarded so far."""
        with self._lock:
            self._requests_seen.clear()
            self._forwarded_count = 0

    def start(self) -> None:
        """Serve in a background thread; returns at once."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> BearerProxy:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(self, method: str, path: str) -> None:
        with self._lock:
            self._requests_seen.append((method, path))

    def _count_forwarded(self) -> None:
        with self._lock:
            self._forwarded_count += 1

    def _is_authorized(self, authorization: str | None) -> bool:
        return self.token is None or authorization == f"Bearer {self.token}"

    def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self._upstream_host, self._upstream_port, timeout=120
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()


def _handler_class(proxy: BearerProxy) -> type[BaseHTTPRequestHandler]:
    """Build the request handler bound to ``proxy`` (http.server instantiates it per request)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            # Read the body first, even for rejected requests, so a kept-alive connection
            # stays in sync.
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            proxy._record(self.command, self.path)
            if not proxy._is_authorized(self.headers.get("Authorization")):
                message = "Missing or invalid bearer token (expected 'Authorization: Bearer')."
                payload = json.dumps({"error_code": "UNAUTHENTICATED", "message": message})
                self._respond(401, [("Content-Type", "application/json")], payload.encode())
                return
            dropped = _HOP_BY_HOP | {"host", "content-length"}
            if proxy.token is not None:
                dropped |= {"authorization"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in dropped}
            status, response_headers, response_body = proxy._forward(
                self.command, self.path, headers, body
            )
            proxy._count_forwarded()
            self._respond(status, response_headers, response_body)

        def _respond(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP_BY_HOP | {"content-length", "date", "server"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: object) -> None:
            """Keep the test output quiet; ``proxy.requests_seen`` records the traffic."""

    return Handler
