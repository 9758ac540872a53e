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

"""Rolling an alias back, by its ledger (:mod:`airflow_mlflow_registry.alias_ledger`), and the
recent holders that retention keeps for it.

Only trusted entries (their signature verifies with Airflow's secret) decide anything: the
holders a rollback can go back to, and where the alias is expected to be before it moves.
Entries that do not verify are shown by the history and ignored here. Functions of
:class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`, shared by the command
line and the ``RollbackModelVersionAliasOperator``.

.. seealso:: :doc:`/howto/govern_promotions`
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.alias_ledger import (
    AliasHistory,
    EntryStatus,
    LedgerEntry,
    MoveKind,
)
from airflow_mlflow_registry.exceptions import (
    AliasMovedError,
    RollbackRefusedError,
    SigningSecretError,
)
from airflow_mlflow_registry.hooks.aliases import (
    MoveReason,
    move_alias,
    observe_alias,
    read_alias_state,
    read_ledger,
)
from airflow_mlflow_registry.hooks.registry_calls import error_code

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.utils.signing import RecordSigner

log = logging.getLogger(__name__)

READY = "READY"
_TRY = re.compile(r"/try \d+")


@dataclass(frozen=True)
class RollbackOutcome:
    """What :func:`rollback_alias` did: the version the alias points at now (``target``), the
    one it pointed at before, how many holders back the target was in the trusted ledger
    (None: a ``to_version`` the ledger never showed on the alias) and the ledger entry of the
    move."""

    target: ModelVersion
    previous_version: str | None
    steps: int | None
    entry: LedgerEntry

    def as_dict(self) -> dict[str, Any]:
        """The JSON-ready part of the outcome (the target as its number)."""
        return {
            "model_name": self.entry.model_name,
            "alias": self.entry.alias,
            "version": str(self.target.version),
            "previous_version": self.previous_version,
            "steps": self.steps,
            "reason": self.entry.why.get("reason", ""),
            "ledger_entry": self.entry.as_dict(),
        }


def rollback_signer() -> RecordSigner:
    """Airflow's signer, which a rollback cannot do without: only signed entries tell where the
    alias was.

    :raises RollbackRefusedError: when the signing secret is not configured here, naming the
        variable and how to set it.
    """
    from airflow_mlflow_registry.utils.signing import task_signer

    try:
        return task_signer()
    except SigningSecretError as exc:
        raise RollbackRefusedError(
            "Rollback refused (rule: the ledger must be verifiable): a rollback reads only "
            "entries signed with Airflow's key. "
            f"{exc} Outside Airflow (the command line), export it as "
            "AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET."
        ) from None


def rollback_alias(
    registry: RegistryCalls,
    model_name: str,
    alias: str,
    *,
    to_version: str | None = None,
    steps: int | None = None,
    reason: str = "",
    signer: RecordSigner | None = None,
    resume_by: str | None = None,
) -> RollbackOutcome:
    """Point ``alias`` back at an earlier holder, by the trusted ledger, and record the move
    (kind ``rollback``; ``why``: ``reason``, ``rolled_back_from``, ``steps``).

    The target is ``steps`` holders back (default 1: the previous holder), or ``to_version``:
    any READY version, also one the alias never held (recorded with ``steps`` ``"none"``).
    Compare-before-move: the alias must still point where the ledger's last trusted entry says
    (MLflow has no compare-and-set: a move landing between that read and the update is not
    detected, and the next observer records it as seen).

    :param signer: Airflow's signer (default: :func:`rollback_signer`).
    :param resume_by: the actor of this rollback (a task instance, see
        :func:`~airflow_mlflow_registry.alias_ledger.current_actor`): when the ledger's last
        trusted entry is a rollback by it in any try and the alias is still there, that
        rollback is returned and nothing moves (a retry does not roll back twice).
    :raises ValueError: when both or an invalid one of ``to_version`` and ``steps`` are given.
    :raises RollbackRefusedError: naming the rule: no signing secret, no trusted history, the
        alias not where the ledger says (the holder found is then recorded as seen), no holder
        that many steps back, the target is the current holder, deleted, or not READY.
    :raises MlflowRequestError: naming the model, alias and version.
    """
    if to_version is not None and steps is not None:
        raise ValueError("Give to_version or steps, not both (steps counts holders back).")
    if steps is not None and (isinstance(steps, bool) or steps < 1):
        raise ValueError(f"steps must be a whole number of at least 1, got {steps!r}.")
    signer = signer if signer is not None else rollback_signer()
    state = read_alias_state(registry, model_name, alias, signer)
    history = state.history
    last = _last_trusted(history)
    if state.holder != last.to_version:
        observe_alias(registry, model_name, alias, signer)
        raise _refused(
            "the alias must be where the ledger's last trusted entry says",
            f"alias {alias!r} of model {model_name!r} points at version "
            f"{state.holder or '(none)'}, but the ledger's last trusted entry says "
            f"{last.to_version or '(none)'}: it was moved outside the provider (now recorded "
            f"as seen). Look at `airflow-mlflow-registry aliases history {model_name} {alias}`"
            " before rolling back again.",
        )
    if resume_by is not None and _same_task(last, resume_by):
        log.info(
            "Alias %r was rolled back by %s already (entry %s).", alias, last.by, last.entry_id
        )
        version = _ready_version(registry, model_name, alias, str(last.to_version))
        steps_back = last.why.get("steps", "")
        back_done = int(steps_back) if steps_back.isdigit() else None
        return RollbackOutcome(version, last.from_version, back_done, last)
    current = state.holder
    target, back = _target(history, current, to_version, steps)
    version = _ready_version(registry, model_name, alias, target)
    why = {
        "reason": reason,
        "rolled_back_from": current or "(none)",
        "steps": "none" if back is None else str(back),
    }
    try:
        move = move_alias(
            registry,
            model_name,
            alias,
            target,
            MoveReason(MoveKind.ROLLBACK, why),
            signer,
            expected_holder=current,
            check_holder=True,
        )
    except AliasMovedError as exc:
        rule = "the alias must be where the ledger's last trusted entry says"
        raise _refused(rule, str(exc)) from exc
    assert move.entry is not None  # the target differs from the current holder
    log.info(
        "Rolled alias %r of model %r back from version %s to %s (%s).",
        alias,
        model_name,
        current,
        target,
        "a version it never held" if back is None else f"{back} holder(s) back",
    )
    # Written with Airflow's signer: it verifies as it reads back.
    entry = replace(move.entry, status=EntryStatus.VERIFIED)
    return RollbackOutcome(version, current, back, entry)


def recent_holders(history: AliasHistory, count: int) -> list[str]:
    """The last ``count`` distinct versions the alias held by the trusted ledger, newest (the
    current holder) first; versions named only by entries that do not verify are not among
    them."""
    kept: list[str] = []
    for holder in reversed(history.holders()):
        if len(kept) >= count:
            break
        if holder is not None and holder not in kept:
            kept.append(holder)
    return kept


def protected_holders(
    registry: RegistryCalls, model_name: str, count: int, signer: RecordSigner | None
) -> dict[str, list[str]]:
    """For each version among the last ``count`` holders of any alias of ``model_name`` (by
    the trusted ledger, :func:`recent_holders`), the aliases it held; empty when ``count`` is
    0 or without ``signer`` (no entry can be trusted). One read of the model.

    :raises MlflowRequestError: naming the model.
    """
    if count < 1 or signer is None:
        return {}
    entries = read_ledger(registry, model_name, signer)
    protected: dict[str, list[str]] = {}
    for alias in sorted({e.alias for e in entries if e.trusted}):
        for version in recent_holders(AliasHistory.of(model_name, alias, entries), count):
            protected.setdefault(version, []).append(alias)
    return protected


def _same_task(entry: LedgerEntry, actor: str) -> bool:
    """Whether ``entry`` is a rollback by ``actor`` in any try (``.../try <n>`` differs)."""
    return entry.kind == MoveKind.ROLLBACK.value and _TRY.sub("", entry.by) == _TRY.sub("", actor)


def _last_trusted(history: AliasHistory) -> LedgerEntry:
    last = history.last
    if last is None:
        untrusted = len(history.untrusted())
        raise _refused(
            "a rollback needs trusted history",
            f"alias {history.alias!r} of model {history.model_name!r} has no ledger entry "
            f"signed with Airflow's key ({untrusted} that do not verify): there is no verified "
            "holder to go back to. Point the alias with SetModelVersionAliasOperator or "
            "`register-version --alias`, which record signed entries.",
        )
    return last


def _target(
    history: AliasHistory, current: str | None, to_version: str | None, steps: int | None
) -> tuple[str, int | None]:
    """The version to roll back to and how many holders back it is (None: never held)."""
    holders = history.holders()
    if to_version is not None:
        target = str(to_version)
        back = [i for i, holder in enumerate(reversed(holders)) if holder == target]
        distance = back[0] if back else None
    else:
        distance = steps or 1
        if distance >= len(holders):
            raise _refused(
                "the target must be a holder on the trusted ledger",
                f"the trusted ledger of alias {history.alias!r} of model "
                f"{history.model_name!r} shows {len(holders)} holder(s) "
                f"({', '.join(h or '(none)' for h in holders)}): there is none {distance} "
                "step(s) back. Give an explicit version (--to / to_version).",
            )
        held = holders[-1 - distance]
        if held is None:
            raise _refused(
                "the target must be a version",
                f"{distance} holder(s) back, alias {history.alias!r} of model "
                f"{history.model_name!r} did not exist. Give an explicit version (--to / "
                "to_version).",
            )
        target = held
    if target == current:
        raise _refused(
            "the target must differ from the current holder",
            f"alias {history.alias!r} of model {history.model_name!r} already points at "
            f"version {current}.",
        )
    return target, distance


def _ready_version(
    registry: RegistryCalls, model_name: str, alias: str, version: str
) -> ModelVersion:
    """The target version, read now.

    :raises RollbackRefusedError: when it is deleted or not READY.
    """
    try:
        found = registry.client.get_model_version(model_name, version)
    except Exception as exc:
        if error_code(exc) == "RESOURCE_DOES_NOT_EXIST":
            raise _refused(
                "the target must exist",
                f"version {version} of model {model_name!r} does not exist (deleted, or never "
                f"registered); alias {alias!r} stays where it is. Choose another version with "
                "--to / to_version (retention keeps the last keep_alias_holders holders of "
                "each alias).",
            ) from None
        raise registry.request_error(
            f"Reading model {model_name!r} version {version}", exc
        ) from exc
    if found.status != READY:
        raise _refused(
            "the target must be READY",
            f"version {version} of model {model_name!r} is {found.status}, not READY; alias "
            f"{alias!r} stays where it is.",
        )
    return found


def _refused(rule: str, detail: str) -> RollbackRefusedError:
    return RollbackRefusedError(f"Rollback refused (rule: {rule}): {detail}")
