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

"""The command line's output: records, tables and the backfill summary on stdout (or JSON with
``--json``), one-line errors and the progress bar on stderr."""

from __future__ import annotations

import contextlib
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from airflow_mlflow_registry.alias_ledger import LedgerEntry

#: The Airflow variable of the signing secret, as the command line's environment sets it.
SIGNING_SECRET_ENV = "AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET"


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def print_record(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(record)
        return
    for key, value in record.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        print(f"{key:<18} {_cell(value)}")


def print_backfill_summary(report: dict[str, Any]) -> None:
    runs, counts = report["runs"], report["counts"]
    window = f"[{report['window']['start']}, {report['window']['end']})"
    experiment = f"experiment {report['experiment_name']!r}"
    if not runs:
        print(f"No run of {experiment} started in {window} matches; nothing to register.")
        return
    print_table(
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
    if report["stopped"]:
        print(
            f"Stopped early ({report['stopped']}): registered {counts['registered']}, already "
            f"registered {counts['already_registered']}, failed {counts['failed']}, not started "
            f"{counts['not_started']} ({len(runs)} runs of {experiment} started in {window}); "
            "run the same backfill again to register the rest."
        )
    elif report["dry_run"]:
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


def print_alias_history(
    model_name: str, alias: str | None, entries: Sequence[LedgerEntry], *, verifiable: bool
) -> None:
    """The ledger as a table, oldest first; an entry that does not verify is flagged
    (``!! tampered``) and a closing line counts them: they decide nothing."""
    from datetime import datetime, timezone

    of = f"alias {alias!r} of model {model_name!r}" if alias else f"model {model_name!r}"
    if not verifiable:
        print(
            f"The signing secret is not set here ({SIGNING_SECRET_ENV}, the Airflow variable "
            "mlflow_registry_signing_secret): no entry can be verified, every one is shown "
            "unsigned."
        )
    if not entries:
        print(f"The ledger of {of} has no entries.")
        return
    print_table(
        ("WHEN (UTC)", "ALIAS", "FROM", "TO", "KIND", "BY", "STATUS", "WHY"),
        [
            (
                datetime.fromtimestamp(e.at / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                e.alias,
                e.from_version,
                e.to_version,
                e.kind,
                e.by,
                e.status.value if e.trusted else f"!! {e.status.value}",
                "; ".join(f"{k}={v}" for k, v in e.why.items()),
            )
            for e in entries
        ],
    )
    untrusted = [e for e in entries if not e.trusted]
    if untrusted:
        print()
        print(
            f"{len(untrusted)} of {len(entries)} entries of {of} do not verify (marked !!): "
            "they decide nothing (rollback and retention use only verified entries)."
        )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
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


def print_error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
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
