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

"""The alias-ledger tally: over 200 rounds of promotions, approvals, rollbacks, outside moves
(plain ``MlflowClient``), version deletions and forged ledger tags on one model, from three
threads of this process and two of a second process, against a real `mlflow server`
(:mod:`tests.support.ledger_rounds`). Checked from the registry itself at the end:

- every provider move's entry is in the ledger exactly once, and no provider entry is there
  that no worker made (``missing``, ``double``);
- every outside move is recorded by its observation, once (``outside_missing``);
- the final holder of each alias is what the ledger's last trusted entry names
  (``final_mismatch``);
- no rollback landed on a version deleted before it (``rollback_on_deleted``);
- every forged tag is flagged, and nothing else is (``unflagged``, ``wrongly_flagged``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.alias_ledger import PROVIDER_MOVES, AliasHistory, EntryStatus
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import read_ledger
from airflow_mlflow_registry.utils.signing import RecordSigner
from tests.support.airflow_env import SIGNING_SECRET
from tests.support.ledger_rounds import ALIASES, RoundLog, RoundPlan, run_threads
from tests.support.model_versions import add_version, unique
from tests.support.tallies import publish_tally

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(900)]

VERSIONS = 12
ROUNDS_PER_THREAD = 45
THREADS_HERE = 3
THREADS_THERE = 2
REPO_ROOT = Path(__file__).resolve().parents[2]


def plans(
    model: str, server: MlflowServer, tmp_path: Path, first_seed: int, count: int
) -> list[RoundPlan]:
    return [
        RoundPlan(
            model=model,
            versions=VERSIONS,
            rounds=ROUNDS_PER_THREAD,
            seed=first_seed + index,
            lock_path=str(tmp_path / "ledger.lock"),
            log_path=str(tmp_path / f"log-{first_seed + index}.json"),
            tracking_uri=server.url,
            signing_secret=SIGNING_SECRET,
        )
        for index in range(count)
    ]


def overlapping_pairs(here: list[RoundLog], there: list[RoundLog]) -> int:
    """Provider moves of this process that overlapped in time one of the other process."""
    spans_there = sorted(span for log in there for span in log.spans)
    return sum(
        any(start < other_end and other_start < end for other_start, other_end in spans_there)
        for log in here
        for start, end in log.spans
    )


def test_ledger_records_every_move_once_under_concurrency(
    mlflow_server: MlflowServer,
    default_registry: MlflowClient,
    tmp_path: Path,
    summary_lines: list[str],
) -> None:
    model = unique("ledger-tally")
    for _ in range(VERSIONS):
        add_version(default_registry, model)
    there_plans = plans(model, mlflow_server, tmp_path, 100, THREADS_THERE)
    plan_file = tmp_path / "plans.json"
    plan_file.write_text(json.dumps([asdict(plan) for plan in there_plans]))
    other = subprocess.Popen(
        [sys.executable, "-m", "tests.support.ledger_rounds", str(plan_file), "there"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    here = run_threads(plans(model, mlflow_server, tmp_path, 1, THREADS_HERE), "here")
    assert other.wait(timeout=600) == 0
    there = [RoundLog(**json.loads(Path(plan.log_path).read_text())) for plan in there_plans]
    logs = here + there

    signer = RecordSigner(SIGNING_SECRET)
    hook = MlflowRegistryHook()
    ledger = read_ledger(hook.registry_calls, model, signer)
    by_id = {entry.entry_id: entry for entry in ledger}
    made = [entry_id for log in logs for entry_id in log.provider_entries]
    outside = [entry_id for log in logs for entry_id in log.outside_observations]
    forged = {key for log in logs for key in log.forged_keys}
    deleted = {version: at for log in logs for version, at in log.deleted.items()}
    rollbacks = [by_id[e] for log in logs for e in log.rollback_entries if e in by_id]

    missing = sum(entry_id not in by_id for entry_id in made)
    double = (
        len(made)
        - len(set(made))
        + sum(
            e.kind in PROVIDER_MOVES and e.trusted and e.entry_id not in set(made) for e in ledger
        )
    )
    outside_missing = sum(entry_id not in by_id for entry_id in outside)
    final_mismatch = 0
    registered = default_registry.get_registered_model(model)
    for alias in ALIASES:
        last = AliasHistory.of(model, alias, ledger).last
        holder = (registered.aliases or {}).get(alias)
        final_mismatch += (last.to_version if last else None) != (
            None if holder is None else str(holder)
        )
    rollback_on_deleted = sum(
        e.to_version in deleted and deleted[e.to_version] <= e.at for e in rollbacks
    )
    unflagged = sum(by_id[key.split(".", 2)[2]].trusted for key in forged)
    wrongly_flagged = sum(not e.trusted and e.tag_key not in forged for e in ledger)
    observed = sum(e.kind == "observed" for e in ledger if e.entry_id not in set(outside))
    refusals: dict[str, int] = {}
    for log in logs:
        for reason, count in log.refusals.items():
            refusals[reason] = refusals.get(reason, 0) + count
    overlaps = overlapping_pairs(here, there)
    rounds = ROUNDS_PER_THREAD * (THREADS_HERE + THREADS_THERE)
    publish_tally(
        summary_lines,
        f"ledger tally: rounds={rounds} provider_moves={len(made)} rollbacks={len(rollbacks)} "
        f"outside_moves={len(outside)} forged={len(forged)} deleted={len(deleted)} "
        f"reorders_observed={observed} cross_process_overlaps={overlaps} refusals={refusals} "
        f"missing={missing} double={double} outside_missing={outside_missing} "
        f"final_mismatch={final_mismatch} rollback_on_deleted={rollback_on_deleted} "
        f"unflagged={unflagged} wrongly_flagged={wrongly_flagged}",
    )
    assert rounds >= 200
    assert overlaps > 0  # the two processes' moves did run at the same time
    assert len(made) > 50 and len(rollbacks) > 5 and len(outside) > 5 and forged
    assert (missing, double, outside_missing, final_mismatch) == (0, 0, 0, 0)
    assert (rollback_on_deleted, unflagged, wrongly_flagged) == (0, 0, 0)
    assert all(e.status is not EntryStatus.VERIFIED for e in ledger if e.tag_key in forged)
