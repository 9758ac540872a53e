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

"""Network endpoints that never answer: for timeout and connection-refused tests."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from pathlib import Path

from tests.support.processes import StartedOnEnter

_HOST = "127.0.0.1"


def find_unused_port() -> int:
    """Return a TCP port on 127.0.0.1 with nothing listening on it, chosen below the kernel's
    ephemeral port range.

    Servers are often started on such a port a minute later (after migrations, on a busy
    machine). A port from the ephemeral range could meanwhile become the local port of some
    process's outgoing connection (Airflow's to PostgreSQL, say), and the server would fail
    with "Address already in use"; ports below that range are never handed out that way.
    Another process could still start listening on it in between, which is unlikely.
    """
    candidates = range(_LOWEST_PORT, _lowest_ephemeral_port())
    for port in random.sample(candidates, min(200, len(candidates))):
        with socket.socket() as probe:
            try:
                probe.bind((_HOST, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port found in {candidates}")


_LOWEST_PORT = 10000  # above the ports of common local services
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _lowest_ephemeral_port() -> int:
    """The first port of Linux's ephemeral range (32768 if it cannot be read)."""
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


class SilentServer(StartedOnEnter):
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

    def _accept_forever(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                connection, _ = self._listener.accept()
                self._connections.append(connection)
