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

"""The command line's arguments: the parser of every command, and the argparse types of
dates, tags and counts. Imports neither Airflow nor MLflow, so ``--help`` and usage errors
answer at once."""

from __future__ import annotations

import argparse
import contextlib
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_mlflow_registry import __version__
from airflow_mlflow_registry.cli.commands import (
    EXIT_USAGE,
    run_aliases_history,
    run_aliases_rollback,
    run_backfill,
    run_get_version,
    run_list_versions,
    run_register_version,
    run_webhooks_create,
    run_webhooks_delete,
    run_webhooks_list,
    run_webhooks_test,
)
from airflow_mlflow_registry.hooks.backfill import (
    DEFAULT_CONCURRENCY,
    MAX_CONCURRENCY,
    check_concurrency,
)

if TYPE_CHECKING:
    from collections.abc import Callable

# The hook's default_conn_name, repeated so that no command imports the hook.
DEFAULT_CONN_ID = "mlflow_default"
# The events the receiver turns into asset events (webhooks.changes.WEBHOOK_EVENTS), repeated
# so that --help imports nothing.
DEFAULT_WEBHOOK_EVENTS = ("model_version.created", "model_version_alias.created")
WEBHOOK_URL_HINT = "https://<airflow-api-server>/mlflow-registry/webhooks/<conn-id>"
_STARTS_WITH_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ].+)?$")
_EPILOG = (
    "Exit codes: 0 success, 1 the operation failed (including a backfill in which any run "
    "failed), 2 bad usage (arguments, missing or invalid connection), 130 interrupted (Ctrl-C)."
)


def parse_datetime(text: str) -> datetime:
    """argparse type: a date (``2026-01-31``, midnight UTC) or an ISO-8601 datetime
    (``2026-01-31T06:00:00+02:00``); a datetime without an offset is UTC."""
    import pendulum

    value: object = None
    if _STARTS_WITH_DATE.match(text.strip()):
        with contextlib.suppress(ValueError):
            value = pendulum.parse(text.strip(), tz="UTC", strict=True)
    if not isinstance(value, datetime):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date (2026-01-31) or an ISO-8601 datetime "
            "(2026-01-31T06:00:00+02:00)"
        )
    return value


def parse_tag(text: str) -> tuple[str, str]:
    """argparse type: ``KEY=VALUE`` (split at the first ``=``; the key may not be empty)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (e.g. team=ml)")
    return key.strip(), value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def concurrency(text: str) -> int:
    """argparse type: registrations at the same time, a whole number from 1 to
    ``MAX_CONCURRENCY``."""
    try:
        return check_concurrency(text, "--concurrency")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (exit code 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command; each sets ``run(registry, args) -> exit code``."""
    parser = _Parser(
        prog="airflow-mlflow-registry",
        description="Register, list and backfill MLflow model versions through an Airflow "
        "'mlflow' connection.",
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_connection_options(parser, suppress_defaults=False)
    # Also accepted after the command name, where suppressed defaults keep a value given
    # before it.
    common = _Parser(add_help=False)
    _add_connection_options(common, suppress_defaults=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str,
        summary: str,
        run: Callable[..., int],
        group: argparse._SubParsersAction[Any] = commands,
    ) -> argparse.ArgumentParser:
        sub = group.add_parser(
            name, parents=[common], help=summary, description=summary, epilog=_EPILOG
        )
        sub.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        sub.set_defaults(run=run)
        return sub

    register = command(
        "register-version",
        "Register a model as a new version (every call creates one, unless given an "
        "--idempotency-key).",
        run_register_version,
    )
    register.add_argument(
        "name", metavar="NAME", help="registered model name (created when missing)"
    )
    register.add_argument(
        "--model-uri", required=True, help="runs:/<run_id>/<path>, models:/<model_id>, s3://..."
    )
    register.add_argument("--description", help="version description")
    register.add_argument(
        "--tag",
        type=parse_tag,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="version tag (repeatable)",
    )
    register.add_argument(
        "--alias", action="append", default=[], help="alias to point at the version (repeatable)"
    )
    register.add_argument(
        "--idempotency-key",
        metavar="KEY",
        help="register at most one version per KEY and model URI, also when several commands "
        "with the same KEY run at once (no single quotes; e.g. a CI job id or a hex digest)",
    )

    listing = command(
        "list-versions",
        "List versions of a model, newest first.",
        run_list_versions,
    )
    listing.add_argument("name", metavar="NAME", help="registered model name")
    listing.add_argument("--alias", help="only the version this alias points at")
    listing.add_argument(
        "--tag",
        type=parse_tag,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="only versions with this tag (repeatable; all must match)",
    )
    listing.add_argument(
        "--created-after",
        type=parse_datetime,
        metavar="DATE",
        help="only versions created at or after DATE (date or ISO-8601; naive means UTC)",
    )
    listing.add_argument(
        "--created-before",
        type=parse_datetime,
        metavar="DATE",
        help="only versions created before DATE",
    )
    listing.add_argument("--limit", type=positive_int, metavar="N", help="at most N versions")

    get = command("get-version", "Show one model version.", run_get_version)
    get.add_argument("name", metavar="NAME", help="registered model name")
    get.add_argument("version", metavar="VERSION", help="version number")

    backfill = command(
        "backfill",
        "Register the model of every run of an experiment started in [--from, --to) that has "
        "no version of NAME yet, oldest run first.",
        run_backfill,
    )
    backfill.add_argument(
        "name", metavar="NAME", help="registered model name (created when missing)"
    )
    backfill.add_argument("--experiment", required=True, help="experiment name")
    backfill.add_argument(
        "--from",
        dest="start",
        required=True,
        type=parse_datetime,
        metavar="DATE",
        help="runs started at or after DATE (date or ISO-8601; naive means UTC)",
    )
    backfill.add_argument(
        "--to",
        dest="end",
        required=True,
        type=parse_datetime,
        metavar="DATE",
        help="runs started before DATE (exclusive: --to 2026-03-05 ends with March 4)",
    )
    backfill.add_argument(
        "--filter",
        default="",
        metavar="F",
        help='MLflow run filter, ANDed with the dates (e.g. "metrics.accuracy > 0.9")',
    )
    backfill.add_argument(
        "--artifact-path",
        default="model",
        metavar="P",
        help="logged model name or artifact path of the model in each run (default: model)",
    )
    backfill.add_argument(
        "--alias",
        action="append",
        default=[],
        help="alias to point, after the backfill, at the version of the newest run of the "
        "window (repeatable)",
    )
    backfill.add_argument(
        "--dry-run", action="store_true", help="register nothing; list what would be done"
    )
    backfill.add_argument(
        "--concurrency",
        type=concurrency,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"registrations sent at the same time, 1 to {MAX_CONCURRENCY} (default: "
        f"{DEFAULT_CONCURRENCY}); each run is still registered once",
    )
    _add_alias_commands(commands, command)
    webhooks = commands.add_parser(
        "webhooks",
        help="Manage the MLflow webhooks that push registry changes to Airflow's api-server.",
        description="Manage MLflow registry webhooks (MLflow 3.3+ server with a SQL store) "
        "delivering to the receiver the provider mounts on Airflow's api-server at "
        f"{WEBHOOK_URL_HINT}.",
    )
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    create = command(
        "create",
        "Create a webhook signed with the connection's secret (generated and stored in the "
        "Airflow variable the receiver reads; never printed).",
        run_webhooks_create,
        actions,
    )
    create.add_argument("--url", required=True, help=f"the receiver's URL: {WEBHOOK_URL_HINT}")
    create.add_argument(
        "--events",
        nargs="+",
        default=list(DEFAULT_WEBHOOK_EVENTS),
        metavar="EVENT",
        help=f"MLflow events (default: {' '.join(DEFAULT_WEBHOOK_EVENTS)})",
    )
    create.add_argument("--name", help="webhook name (default: airflow-<conn-id>)")
    create.add_argument("--description", help="webhook description")
    command("list", "List the registry's webhooks.", run_webhooks_list, actions)
    delete = command("delete", "Delete a webhook.", run_webhooks_delete, actions)
    delete.add_argument("webhook_id", metavar="WEBHOOK_ID")
    test = command(
        "test", "Have MLflow send the webhook an example delivery.", run_webhooks_test, actions
    )
    test.add_argument("webhook_id", metavar="WEBHOOK_ID")
    test.add_argument("--event", metavar="EVENT", help="event to send (default: its first)")
    return parser


def _add_alias_commands(
    commands: argparse._SubParsersAction[Any], command: Callable[..., argparse.ArgumentParser]
) -> None:
    """``aliases history`` and ``aliases rollback``."""
    aliases = commands.add_parser(
        "aliases",
        help="Show an alias ledger, or roll an alias back by it.",
        description="The alias ledger: every move of a model's aliases, signed with Airflow's "
        "key (the Airflow variable mlflow_registry_signing_secret).",
    )
    actions = aliases.add_subparsers(dest="aliases_command", required=True, metavar="ACTION")
    history = command(
        "history",
        "Every move of the model's aliases (or of ALIAS), oldest first, each with its signature "
        "status; entries that do not verify are flagged.",
        run_aliases_history,
        actions,
    )
    history.add_argument("name", metavar="MODEL", help="registered model name")
    history.add_argument("alias", metavar="ALIAS", nargs="?", help="only this alias")
    rollback = command(
        "rollback",
        "Point ALIAS back at the version it held before, by the verified ledger (needs the "
        "signing secret); the move is recorded.",
        run_aliases_rollback,
        actions,
    )
    rollback.add_argument("name", metavar="MODEL", help="registered model name")
    rollback.add_argument("alias", metavar="ALIAS", help="alias to roll back")
    target = rollback.add_mutually_exclusive_group()
    target.add_argument(
        "--to", metavar="VERSION", help="this version (any READY one; recorded as such)"
    )
    target.add_argument(
        "--steps",
        type=positive_int,
        metavar="N",
        help="N holders back on the verified ledger (default: 1, the previous holder)",
    )
    rollback.add_argument(
        "--reason", default="", help="why, recorded in the ledger entry (e.g. a ticket)"
    )


def _add_connection_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    parser.add_argument(
        "--conn-id",
        default=argparse.SUPPRESS if suppress_defaults else DEFAULT_CONN_ID,
        help=f"Airflow connection id of type mlflow (default: {DEFAULT_CONN_ID})",
    )
    parser.add_argument(
        "--workspace",
        default=argparse.SUPPRESS if suppress_defaults else None,
        help="MLflow workspace on a server with workspaces enabled (default: the connection's "
        "extra 'workspace', else the server's default workspace)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress_defaults else False,
        help="print tracebacks and debug logs",
    )
