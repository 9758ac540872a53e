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


"""Rounds of the alias-ledger tally, run by threads of the test process and of a second
process (``python -m tests.support.ledger_rounds <plan.json>``), each thread writing a log.

One model, two aliases, every kind of move at once:

- provider moves (promotions, approvals, rollbacks) hold a *shared* lock: they run
  concurrently with each other, in both processes;
- an outside move (a plain ``MlflowClient``) and the watch's observation of it
  (:func:`~airflow_mlflow_registry.hooks.aliases.observe_alias`), a version deletion, and a
  forged ledger tag hold the lock *exclusively*: an outside move overwritten before any
  observer reads it cannot be recorded by polling (only a webhook sees each), so the tally
  gives each one its observation before the next move, as a watch polling faster than moves.

The lock is ``fcntl.flock`` on a file (shared between processes; one open file per thread).
"""

from __future__ import annotations

import fcntl
import json
import random
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.alias_rollback import rollback_alias
from airflow_mlflow_registry.exceptions import MlflowRegistryError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import MoveReason, move_alias, observe_alias
from airflow_mlflow_registry.utils.signing import RecordSigner
from tests.support.ledger import forge_entry

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mlflow import MlflowClient

ALIASES = ("champion", "staging")
#: Action weights of one round.
ACTIONS = {"promote": 35, "approve": 20, "rollback": 20, "outside": 15, "forge": 5, "delete": 5}


@dataclass(frozen=True)
class RoundPlan:
    """What one thread does: ``rounds`` rounds on ``model`` with versions ``1..versions``."""

    model: str
    versions: int
    rounds: int
    seed: int
    lock_path: str
    log_path: str
    tracking_uri: str
    signing_secret: str


@dataclass
class RoundLog:
    """What one thread did: entry ids of its provider moves, the observation ids of its outside
    moves, forged tag keys, deleted versions (with when), refusals by reason, move spans."""

    worker: str
    provider_entries: list[str] = field(default_factory=list)
    rollback_entries: list[str] = field(default_factory=list)
    outside_observations: list[str] = field(default_factory=list)
    forged_keys: list[str] = field(default_factory=list)
    deleted: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    spans: list[tuple[float, float]] = field(default_factory=list)

    def refused(self, reason: str) -> None:
        self.refusals[reason] = self.refusals.get(reason, 0) + 1


@contextmanager
def locked(lock_path: str, *, exclusive: bool) -> Iterator[None]:
    """Hold the tally's file lock, shared or exclusive."""
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_rounds(plan: RoundPlan, worker: str) -> RoundLog:
    """Run ``plan``'s rounds; write and return the log."""
    from mlflow import MlflowClient

    rng = random.Random(plan.seed)
    hook = MlflowRegistryHook()
    registry = hook.registry_calls
    signer = RecordSigner(plan.signing_secret)
    plain = MlflowClient(tracking_uri=plan.tracking_uri, registry_uri=plan.tracking_uri)
    log = RoundLog(worker)
    for round_number in range(plan.rounds):
        action = rng.choices(list(ACTIONS), list(ACTIONS.values()))[0]
        alias = rng.choice(ALIASES)
        version = str(rng.randint(1, plan.versions))
        exclusive = action in ("outside", "forge", "delete")
        with locked(plan.lock_path, exclusive=exclusive):
            started = time.time()
            try:
                if action in ("promote", "approve"):
                    kind = MoveKind.SET_ALIAS if action == "promote" else MoveKind.APPROVAL
                    why = {"round": f"{worker}/{round_number}"}
                    moved = move_alias(
                        registry, plan.model, alias, version, MoveReason(kind, why), signer
                    )
                    if moved.entry is not None:
                        log.provider_entries.append(moved.entry.entry_id)
                elif action == "rollback":
                    entry = roll_back(registry, plan.model, alias, signer)
                    log.provider_entries.append(entry)
                    log.rollback_entries.append(entry)
                elif action == "outside":
                    outside_move(plain, registry, plan.model, alias, version, signer, log)
                elif action == "forge":
                    log.forged_keys.append(forge_random_entry(plain, plan.model, rng))
                else:
                    delete_unheld_version(plain, plan.model, rng, log)
            except MlflowRegistryError as exc:
                log.refused(type(exc).__name__)
            if not exclusive:
                log.spans.append((started, time.time()))
    Path(plan.log_path).write_text(json.dumps(asdict(log)))
    return log


def roll_back(registry: Any, model: str, alias: str, signer: RecordSigner) -> str:
    """Roll ``alias`` back one holder with the provider's rollback; return the entry id.

    :raises MlflowRegistryError: when the rollback is refused.
    """
    outcome = rollback_alias(registry, model, alias, steps=1, reason="tally", signer=signer)
    return outcome.entry.entry_id


def outside_move(
    plain: MlflowClient,
    registry: Any,
    model: str,
    alias: str,
    version: str,
    signer: RecordSigner,
    log: RoundLog,
) -> None:
    """Move ``alias`` with the plain client, then observe it as a watch would."""
    from mlflow.exceptions import MlflowException

    try:
        current = plain.get_model_version_by_alias(model, alias).version
    except MlflowException:
        current = None
    if current == version:
        return
    try:
        plain.set_registered_model_alias(model, alias, version)
    except MlflowException:
        log.refused("outside move to a deleted version")
        return
    seen = observe_alias(registry, model, alias, signer)
    assert seen is not None and seen.kind in ("seen", "observed"), seen
    log.outside_observations.append(seen.entry_id)


def forge_random_entry(plain: MlflowClient, model: str, rng: random.Random) -> str:
    """Write a ledger tag a registry user could write (:func:`tests.support.ledger.forge_entry`:
    a real entry's signature copied over) for a random move at a random moment. Return the
    key."""
    at = int(time.time() * 1000) - rng.randint(0, 60_000)
    alias = rng.choice(ALIASES)
    to_version = str(rng.randint(1, 99))
    suffix = f"{rng.getrandbits(32):08x}"
    return forge_entry(plain, model, alias, None, to_version, at, by="mallory", suffix=suffix)


def delete_unheld_version(
    plain: MlflowClient, model: str, rng: random.Random, log: RoundLog
) -> None:
    """Delete a version no alias points at (keeping at least four)."""
    registered = plain.get_registered_model(model)
    held = set((registered.aliases or {}).values())
    live = [mv.version for mv in plain.search_model_versions(f"name = '{model}'")]
    candidates = [v for v in live if v not in held]
    if len(live) <= 4 or not candidates:
        return
    version = rng.choice(candidates)
    plain.delete_model_version(model, version)
    log.deleted[str(version)] = int(time.time() * 1000)


def run_threads(plans: list[RoundPlan], prefix: str) -> list[RoundLog]:
    """Run each plan in a thread of this process, started together; return the logs.

    :raises RuntimeError: naming what a thread raised.
    """
    logs: list[RoundLog] = []
    errors: list[str] = []

    def run(plan: RoundPlan, worker: str) -> None:
        try:
            logs.append(run_rounds(plan, worker))
        except BaseException as exc:
            errors.append(f"{worker}: {exc!r}")

    threads = [
        threading.Thread(target=run, args=(plan, f"{prefix}-{index}"))
        for index, plan in enumerate(plans)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError("; ".join(errors))
    return logs


if __name__ == "__main__":
    plans = [RoundPlan(**plan) for plan in json.loads(Path(sys.argv[1]).read_text())]
    run_threads(plans, sys.argv[2])
