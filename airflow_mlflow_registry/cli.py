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
Airflow (:mod:`~airflow_mlflow_registry.hooks.connection_env`; the process runs in
:mod:`~airflow_mlflow_registry.standalone` mode), and only a connection found elsewhere (a
secrets backend, the metadata DB) is looked up through Airflow, like
``airflow connections get``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
import traceback
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_mlflow_registry import __version__
from airflow_mlflow_registry.backfill import DEFAULT_CONCURRENCY, MAX_CONCURRENCY, check_concurrency

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airflow_mlflow_registry.hooks.connection_config import ConnectionFields
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# The hook's default_conn_name, repeated so that no command imports the hook.
DEFAULT_CONN_ID = "mlflow_default"
_STARTS_WITH_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ].+)?$")
_EPILOG = (
    "Tags are KEY=VALUE in every command (--tag, repeatable). Exit codes: 0 success, 1 the "
    "operation failed (including a backfill in which any run failed), 2 bad usage "
    "(arguments, missing or invalid connection), 130 interrupted (Ctrl-C)."
)


# ---------------------------------------------------------------- argument types


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


# ---------------------------------------------------------------- parser


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

    def command(name: str, summary: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name, parents=[common], help=summary, description=summary, epilog=_EPILOG
        )
        sub.add_argument("--json", action="store_true", help="print JSON (for scripts)")
        sub.set_defaults(run=run)
        return sub

    register = command(
        "register-version",
        "Register a model as a new version (no exactly-once key outside a task: every call "
        "creates a version).",
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
        help="runs started before DATE",
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
    return parser


def _add_connection_options(parser: argparse.ArgumentParser, *, suppress_defaults: bool) -> None:
    parser.add_argument(
        "--conn-id",
        default=argparse.SUPPRESS if suppress_defaults else DEFAULT_CONN_ID,
        help=f"Airflow connection id of type mlflow (default: {DEFAULT_CONN_ID})",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress_defaults else False,
        help="print tracebacks and debug logs",
    )


# ---------------------------------------------------------------- commands


def run_register_version(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``register-version``: one new version (``lineage=None``: no exactly-once key)."""
    from airflow_mlflow_registry.hooks.version_registration import register_model_version

    record = register_model_version(
        registry,
        args.name,
        args.model_uri,
        description=args.description,
        tags=dict(args.tag),
        aliases=args.alias,
        lineage=None,
    )
    _print_record(record, args.json)
    return EXIT_OK


def run_get_version(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``get-version``: the record of one version."""
    from airflow_mlflow_registry.hooks.model_versions import get_model_version

    _print_record(get_model_version(registry, args.name, args.version), args.json)
    return EXIT_OK


def run_list_versions(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``list-versions``: matching versions, newest first."""
    from airflow_mlflow_registry.hooks.model_versions import search_model_versions

    records = search_model_versions(
        registry,
        args.name,
        alias=args.alias,
        tags=dict(args.tag),
        created_after=args.created_after,
        created_before=args.created_before,
        limit=args.limit,
    )
    if args.json:
        _print_json(records)
    elif not records:
        print(f"No version of model {args.name!r} matches.")
    else:
        _print_table(
            ("VERSION", "CREATED", "STATUS", "ALIASES", "RUN ID", "SOURCE"),
            [
                (
                    r["version"],
                    r["registered_at"],
                    r["status"],
                    r["aliases"],
                    r["run_id"],
                    r["source"],
                )
                for r in records
            ],
        )
    return EXIT_OK


def run_backfill(registry: RegistryCalls, args: argparse.Namespace) -> int:
    """``backfill``: register each run's model once; exit 1 when any run failed."""
    from airflow_mlflow_registry.hooks.backfill_registrations import backfill_registrations

    action = "Checking runs for" if args.dry_run else "Backfilling"
    with _progress_bar(f"{action} {args.name}") as on_progress:
        report = backfill_registrations(
            registry,
            args.name,
            experiment_name=args.experiment,
            start=args.start,
            end=args.end,
            run_filter=args.filter,
            artifact_path=args.artifact_path,
            aliases=args.alias,
            dry_run=args.dry_run,
            on_progress=on_progress,
            concurrency=args.concurrency,
        )
    if args.json:
        _print_json(report)
    else:
        _print_backfill_summary(report)
    failed = report["counts"]["failed"]
    if failed:
        _print_error(
            f"{failed} of {len(report['runs'])} runs failed; run the same backfill "
            "again to retry them (registered runs are skipped)."
        )
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------- output


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def _print_record(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        _print_json(record)
        return
    for key, value in record.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:<18} {_cell(value)}")


def _print_backfill_summary(report: dict[str, Any]) -> None:
    runs, counts = report["runs"], report["counts"]
    window = f"[{report['window']['start']}, {report['window']['end']})"
    experiment = f"experiment {report['experiment_name']!r}"
    if not runs:
        print(f"No run of {experiment} started in {window} matches; nothing to register.")
        return
    _print_table(
        ("RUN ID", "RUN NAME", "STARTED", "OUTCOME", "VERSION", "SOURCE / ERROR"),
        [
            (
                run["run_id"],
                run["run_name"],
                run["start_time"],
                run["outcome"].replace("_", " "),
                run["version"],
                run["error"] or run["model_uri"],
            )
            for run in runs
        ],
    )
    print()
    if report["dry_run"]:
        print(
            f"Dry run, nothing registered: would register {counts['would_register']}, "
            f"already registered {counts['already_registered']}, failed {counts['failed']} "
            f"({len(runs)} runs of {experiment} started in {window})."
        )
    elif counts["registered"] == 0 and counts["failed"] == 0:
        print(
            f"Nothing to register: all {len(runs)} runs of {experiment} started in {window} "
            f"already have a version of model {report['model_name']!r}."
        )
    else:
        print(
            f"Registered {counts['registered']}, already registered "
            f"{counts['already_registered']}, failed {counts['failed']} ({len(runs)} runs of "
            f"{experiment} started in {window})."
        )
    for move in report["aliases"]:
        print(_describe_alias_move(move, report["dry_run"]))


def _describe_alias_move(move: dict[str, Any], dry_run: bool) -> str:
    """One line: where a backfill pointed (or would point) an alias, and where it was."""
    target = f"version {move['version']}" if move["version"] else "the version"
    where = f"{target} of run {move['run_id']}, the newest run of the window"
    before = move["previous_version"]
    was = f"version {before}" if before else "none"
    if dry_run:
        return f"Alias {move['alias']!r} would point at {where} (now: {was})."
    if before == move["version"]:
        return f"Alias {move['alias']!r} already pointed at {where}."
    return f"Alias {move['alias']!r} now points at {where} (before: {was})."


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [
        max([len(header), *(len(row[i]) for row in cells)]) for i, header in enumerate(headers)
    ]
    for row in [list(headers), *cells]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _cell(value: Any) -> str:
    if value is None or value in ("", [], {}):
        return "-"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def _print_error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


@contextlib.contextmanager
def _progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress callback drawing a bar on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(description),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


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


# ---------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    args = build_parser().parse_args(argv)  # exits 2 on bad usage
    registry: RegistryCalls | None = None
    try:
        registry = connect(args.conn_id)
        _configure_logging(args.debug, registry.redact)
        # Resolve and validate the connection first: its errors are usage errors (exit 2),
        # which the commands would report as failed requests.
        registry.config  # noqa: B018
        return int(args.run(registry, args))
    except KeyboardInterrupt:
        _print_error("interrupted.")
        return EXIT_INTERRUPTED
    except Exception as exc:
        code, message = _describe_failure(exc, args.conn_id)
        redact = registry.redact if registry is not None else str
        if args.debug:
            print(redact(traceback.format_exc()), file=sys.stderr)
        _print_error(redact(message))
        return code


def connect(conn_id: str) -> RegistryCalls:
    """The registry calls of connection ``conn_id``: its config is read and validated on first
    use (:attr:`RegistryCalls.config`), its client built on first request.

    A connection in its ``AIRFLOW_CONN_<ID>`` variable, when that is certainly what Airflow
    would use (:func:`~airflow_mlflow_registry.hooks.connection_env.environment_connection`),
    is read without Airflow, and this process enters standalone mode; any other is looked up
    through Airflow (:func:`airflow_connection`).
    """
    from airflow_mlflow_registry.hooks.connection_env import environment_connection
    from airflow_mlflow_registry.standalone import enter_standalone_mode

    from_environment = environment_connection(conn_id)
    if from_environment is not None:
        enter_standalone_mode()  # before the modules below import the provider's errors
    from airflow_mlflow_registry.hooks.connection_config import MlflowConnectionConfig
    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls

    return RegistryCalls.building(
        lambda: MlflowConnectionConfig.from_connection(
            from_environment or airflow_connection(conn_id)
        )
    )


def airflow_connection(conn_id: str) -> ConnectionFields:
    """Connection ``conn_id`` as ``airflow connections get`` finds it: in a custom secrets
    backend, an ``AIRFLOW_CONN_*`` variable or the metadata DB. Imports Airflow.

    :raises AirflowNotFoundException: when none of them defines it.
    """
    from airflow.models.connection import Connection

    return Connection.get_connection_from_secrets(conn_id)


def _describe_failure(exc: Exception, conn_id: str) -> tuple[int, str]:
    """The exit code and one-line message for ``exc``."""
    from airflow_mlflow_registry.exceptions import MlflowRegistryError
    from airflow_mlflow_registry.standalone import is_standalone

    if not is_standalone() and _is_airflow_not_found(exc):
        return EXIT_USAGE, (
            f"connection {conn_id!r} is not defined: set AIRFLOW_CONN_{conn_id.upper()} (JSON "
            "or URI form) or add it to a secrets backend, or pass --conn-id."
        )
    if isinstance(exc, ValueError):  # invalid arguments and MlflowConnectionConfigError
        return EXIT_USAGE, str(exc)
    if isinstance(exc, MlflowRegistryError):
        return EXIT_FAILED, str(exc)
    return EXIT_FAILED, f"unexpected {type(exc).__name__}: {exc} (--debug shows the traceback)"


def _is_airflow_not_found(exc: Exception) -> bool:
    from airflow_mlflow_registry.version_compat import AirflowNotFoundException

    return isinstance(exc, AirflowNotFoundException)
