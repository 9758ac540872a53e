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

"""``airflow-mlflow-registry``: register, list and backfill MLflow model versions from a shell.

A thin layer over the functions behind
:class:`~airflow_mlflow_registry.hooks.MlflowRegistryHook` (the same code, called with the
connection's :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`): each command
parses its arguments, calls one of them and prints the result (text, or JSON with ``--json``).
The connection ``--conn-id`` (default ``mlflow_default``) resolves as in Airflow.

Exit codes: 0 success; 1 the operation failed (a backfill with any failed run included); 2 bad
usage (arguments, or a missing or invalid connection); 130 interrupted (SIGINT, Ctrl-C). An
error is one line on stderr, with a traceback only under ``--debug``, and never contains the
connection's password or token.

Each command pays only for what it needs: ``--help`` and argument errors import neither
Airflow nor MLflow; a connection read from its ``AIRFLOW_CONN_<ID>`` variable is parsed without
Airflow (:mod:`~airflow_mlflow_registry.hooks.client.connection_env`; the process runs in
:mod:`~airflow_mlflow_registry.utils.standalone` mode), and only a connection found elsewhere (a
secrets backend, the metadata DB) is looked up through Airflow, like
``airflow connections get``.

The rooms: :mod:`.arguments` (the parser), :mod:`.connection` (where the connection is read),
:mod:`.commands` (one function a command, and the exit codes), :mod:`.output` (what is printed);
this module is the entry point (``airflow_mlflow_registry.cli:main``), error reporting and
logging.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import TYPE_CHECKING

from airflow_mlflow_registry.cli.arguments import build_parser
from airflow_mlflow_registry.cli.commands import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    reads_airflow_variables,
)
from airflow_mlflow_registry.cli.connection import connect
from airflow_mlflow_registry.cli.output import print_error

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)  # exits 2 on bad usage
    registry: RegistryCalls | None = None
    try:
        registry = connect(args.conn_id, args.workspace)
        if reads_airflow_variables(args):
            # Airflow sends logs to stdout from its import on: import it before ours replace
            # them, so that --json output stays JSON.
            import airflow.sdk  # noqa: F401
        _configure_logging(args.debug, registry.redact)
        # Resolve and validate the connection first: its errors are usage errors (exit 2),
        # which the commands would report as failed requests.
        registry.config  # noqa: B018
        return int(args.run(registry, args))
    except KeyboardInterrupt:
        print_error("interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:
        code, message = _describe_failure(exc, args.conn_id)
        redact = registry.redact if registry is not None else str
        if args.debug:
            print(redact(traceback.format_exc()), file=sys.stderr)
        print_error(redact(message))
        return code


def _describe_failure(exc: Exception, conn_id: str) -> tuple[int, str]:
    """The exit code and one-line message for ``exc``."""
    from airflow_mlflow_registry.exceptions import MlflowRegistryError
    from airflow_mlflow_registry.utils.standalone import is_standalone

    if not is_standalone() and _is_airflow_not_found(exc):
        return EXIT_USAGE, (
            f"connection {conn_id!r} is not defined: set AIRFLOW_CONN_{conn_id.upper()} (JSON "
            "or URI form), add it to a secrets backend or the metadata DB, or pass --conn-id."
        )
    if isinstance(exc, ValueError):  # invalid arguments and MlflowConnectionConfigError
        return EXIT_USAGE, str(exc)
    if isinstance(exc, MlflowRegistryError):
        return EXIT_FAILED, str(exc)
    return EXIT_FAILED, f"unexpected {type(exc).__name__}: {exc} (--debug shows the traceback)"


def _is_airflow_not_found(exc: Exception) -> bool:
    from airflow_mlflow_registry.version_compat import AirflowNotFoundException

    return isinstance(exc, AirflowNotFoundException)


class _RedactingFilter(logging.Filter):
    """Formats each record's message once and removes the connection's secrets from it."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self._redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._redact(record.getMessage()), None
        return True


def _configure_logging(debug: bool, redact: Callable[[str], str]) -> None:
    """Logs go to stderr (stdout carries the output, e.g. JSON): warnings, or everything with
    ``--debug``. Replaces the stdout handler Airflow installs when imported."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_RedactingFilter(redact))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
