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

"""Backfilling registrations: one model version per past run of an experiment.

A backfill registers the model of every run of an experiment that started in a time window
as a version of one registered model, except runs that already have a version of it, whoever
registered them (an earlier backfill, a DAG, a person). Each registration carries a key
derived from (model, run), so a backfill interrupted while a create was in flight cannot
duplicate that version when it runs again.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_mlflow_registry.utils.time_window import TimeWindow

REGISTERED = "registered"
ALREADY_REGISTERED = "already_registered"
WOULD_REGISTER = "would_register"
FAILED = "failed"
#: A run a stopped backfill did not reach (only in the report of a backfill that stopped).
NOT_STARTED = "not_started"
OUTCOMES = (REGISTERED, ALREADY_REGISTERED, WOULD_REGISTER, FAILED, NOT_STARTED)

#: Registrations a backfill sends at the same time unless told otherwise, and at most.
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32


def check_concurrency(value: Any, argument: str = "concurrency") -> int:
    """Return ``value`` as an int; it must be a whole number from 1 to
    :data:`MAX_CONCURRENCY` (a string of digits is accepted, for the command line).

    :raises ValueError: naming ``argument`` and the allowed range.
    """
    try:
        number = int(value) if not isinstance(value, (bool, float)) else None
    except (TypeError, ValueError):
        number = None
    if number is None or not 1 <= number <= MAX_CONCURRENCY:
        raise ValueError(
            f"{argument} must be a whole number from 1 to {MAX_CONCURRENCY} (registrations "
            f"sent at the same time), got {value!r}."
        )
    return number


def run_registration_key(model_name: str, run_id: str) -> str:
    """The exactly-once key of registering run ``run_id`` as a version of ``model_name``.

    A hex digest, because MLflow search filters cannot escape quotes inside values.
    """
    identity = "\x1f".join(["backfill", model_name, run_id])
    return hashlib.sha256(identity.encode()).hexdigest()


def single_run_filter(run_id: str) -> str:
    """The MLflow run filter matching run ``run_id`` only (run ids are hex, never quoted)."""
    return f"attributes.run_id = '{run_id}'"


@dataclass(frozen=True)
class BackfillRun:
    """What a backfill did (or, in a dry run, would do) with one run.

    ``outcome`` is one of :data:`OUTCOMES`; ``version`` is the version registered or found,
    ``model_uri`` the source registered (or to be registered), ``error`` why it failed.
    """

    run_id: str
    run_name: str | None
    start_time: str
    outcome: str
    version: str | None = None
    model_uri: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, run_info: Any, outcome: str, **details: str | None) -> BackfillRun:
        """The row of an MLflow ``RunInfo``; ``details`` are ``version``, ``model_uri``,
        ``error``."""
        started = datetime.fromtimestamp(run_info.start_time / 1000, tz=timezone.utc)
        return cls(
            run_id=run_info.run_id,
            run_name=run_info.run_name or None,
            start_time=started.isoformat(),
            outcome=outcome,
            **details,
        )


def backfill_report(
    *,
    model_name: str,
    experiment_name: str,
    experiment_id: str,
    window: TimeWindow,
    run_filter: str,
    dry_run: bool,
    runs: Sequence[BackfillRun],
    aliases: Sequence[dict[str, Any]] = (),
    stopped: str | None = None,
) -> dict[str, Any]:
    """The JSON-able report of a backfill: its parameters, a count per outcome (every outcome
    present, zero included), one row per run, in run start order, where each alias was
    pointed (``alias``, ``run_id``, ``version``, ``previous_version``), and ``stopped``: None
    for a backfill that finished, else why it stopped early (one line; its runs not reached
    are ``not_started``, and aliases not pointed yet are missing)."""
    counts = Counter(run.outcome for run in runs)
    return {
        "model_name": model_name,
        "experiment_name": experiment_name,
        "experiment_id": experiment_id,
        "window": window.as_dict(),
        "run_filter": run_filter,
        "dry_run": dry_run,
        "counts": {outcome: counts[outcome] for outcome in OUTCOMES},
        "runs": [asdict(run) for run in runs],
        "aliases": list(aliases),
        "stopped": stopped,
    }
