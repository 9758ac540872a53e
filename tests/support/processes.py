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

"""Servers the tests start: a child process in its own session that logs to a file
(:class:`ServerProcess`), and ``with server:`` for anything with ``start`` and ``stop``
(:class:`StartedOnEnter`)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path
    from types import TracebackType

    from typing_extensions import Self


class StartedOnEnter:
    """``with server:`` calls ``start()``, and ``stop()`` on the way out."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess:
    """One server process named ``name``, its output appended to ``log_path``."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def launch(
        self,
        command: Sequence[str],
        answers: Callable[[], bool],
        *,
        env: Mapping[str, str],
        cwd: Path,
        timeout: float,
        interval: float = 0.5,
    ) -> None:
        """Start ``command`` in a new session and block until ``answers()`` is true.

        :raises RuntimeError: with the log's tail, when the process exits or does not answer
            within ``timeout`` seconds.
        """
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                list(command),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}){self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not answer within {timeout} s{self.tail()}")
            time.sleep(interval)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds. Safe to call twice."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def tail(self, characters: int = 3000) -> str:
        """The end of the log, prefixed with its name, for failure messages."""
        if not self.log_path.exists():
            return ""
        return (
            f"\n--- {self.log_path.name}\n"
            + self.log_path.read_text(errors="replace")[-characters:]
        )
