"""Network endpoints that never answer: for timeout and connection-refused tests."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

_HOST = "127.0.0.1"


def find_unused_port() -> int:
    """Return a TCP port on 127.0.0.1 with nothing listening on it.

    The port is free when this returns; another process could take it later, which is
    unlikely within a test.
    """
    with socket.socket() as probe:
        probe.bind((_HOST, 0))
        return int(probe.getsockname()[1])


class SilentServer:
    """A TCP listener on a free 127.0.0.1 port that accepts connections and never sends a byte.

    Accepted connections stay open until :meth:`stop`, so a client waits until its read
    timeout. Usable as a context manager.
    """

    def __init__(self) -> None:
        self._listener = socket.create_server((_HOST, 0))
        self._listener.settimeout(0.2)  # lets the accept loop notice stop()
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://{_HOST}:{self.port}"
        self._connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_forever, daemon=True)

    @property
    def connections_accepted(self) -> int:
        """How many connections were accepted so far."""
        return len(self._connections)

    def start(self) -> None:
        """Start accepting connections in a background thread; returns at once."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close the listener and every accepted connection."""
        self._stopping.set()
        self._thread.join()
        self._listener.close()
        for connection in self._connections:
            connection.close()

    def __enter__(self) -> SilentServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept_forever(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self._listener.accept()
                self._connections.append(connection)
