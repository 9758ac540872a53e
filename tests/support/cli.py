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

"""Run the ``airflow-mlflow-registry`` command line: as real processes of the console script,
or in this process through :func:`airflow_mlflow_registry.cli.main`.

A process spends seconds of CPU importing Airflow and MLflow. So tests about what only a process
shows (the entry point, exit status, Ctrl-C, a terminal, everything an import prints, that no
secret reaches any stream) run processes, and tests about what a command does (its records,
tables, reports, exit codes and error lines) call ``main`` in this process, where both are
already imported.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

CLI = Path(sys.executable).with_name("airflow-mlflow-registry")
CLI_TIMEOUT_SECONDS = 240


@dataclass(frozen=True)
class CliResult:
    """Exit code and output of one command line."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def stderr_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(env: Mapping[str, str], *command_lines: Sequence[str]) -> list[CliResult]:
    """Run each command line as its own CLI process with environment ``env``, all at once;
    results in the same order. Every process still running when one exceeds
    ``CLI_TIMEOUT_SECONDS`` (or when anything else fails) is killed."""
    processes = [start_cli(env, args) for args in command_lines]
    try:
        results = []
        for process in processes:
            stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
            results.append(CliResult(process.returncode, stdout, stderr))
        return results
    finally:
        kill_all(processes)


def start_cli(env: Mapping[str, str], args: Sequence[str]) -> subprocess.Popen[str]:
    """Start the CLI with ``args`` (stdout and stderr piped, text) the way a terminal's shell
    does, with SIGINT at its default action, so that Ctrl-C (``send_signal(SIGINT)``) raises
    ``KeyboardInterrupt`` in it. A child inherits an ignored SIGINT, and a suite started in the
    background by a non-interactive shell (``cmd &``) has SIGINT ignored; Python then installs
    no handler and the CLI would never see the signal."""
    return subprocess.Popen(
        [str(CLI), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_all(processes: Sequence[subprocess.Popen[Any]]) -> None:
    """Kill and reap each process that has not exited (after a timeout or a failed test)."""
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def run_cli_in_process(env: Mapping[str, str], *command_lines: Sequence[str]) -> list[CliResult]:
    """Run each command line through ``cli.main`` in this process, one after another, with
    ``os.environ`` replaced by ``env`` and stdout/stderr captured; results in the same order.
    An argument error's ``SystemExit`` becomes the result's code, as the console script's exit
    status would. The environment, ``sys.stdout``/``sys.stderr`` and the root logger's handlers
    and level (which ``main`` replaces) are restored after each command."""
    from airflow_mlflow_registry.cli import main

    results = []
    for args in command_lines:
        stdout, stderr = io.StringIO(), io.StringIO()
        with (
            _environment(env),
            _root_logger_kept(),
            contextlib.redirect_stdout(stdout),
            contextlib.redirect_stderr(stderr),
        ):
            try:
                code = main(list(args))
            except SystemExit as exit:
                code = exit.code if isinstance(exit.code, int) else 1
        results.append(CliResult(code, stdout.getvalue(), stderr.getvalue()))
    return results


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _root_logger_kept() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


BACKFILL_OUTCOMES = ("registered", "already_registered", "would_register", "failed", "not_started")


def backfill_counts(**nonzero: int) -> dict[str, int]:
    """The ``counts`` a ``backfill --json`` report must hold: every outcome the command counts,
    zero unless given.

    :param nonzero: counts that are not zero, by outcome (``registered=3``).
    :return: a dict with exactly the keys of ``BACKFILL_OUTCOMES``, to compare with ``==``.
    :raises ValueError: an outcome that is not one of ``BACKFILL_OUTCOMES``.
    """
    unknown = set(nonzero) - set(BACKFILL_OUTCOMES)
    if unknown:
        raise ValueError(f"not a backfill outcome: {sorted(unknown)}")
    return {outcome: nonzero.get(outcome, 0) for outcome in BACKFILL_OUTCOMES}
