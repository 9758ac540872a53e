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

"""Aliases: reading which version an alias points at, and pointing it at another, sending no
update when it already points there; every move recorded in the model's alias ledger
(:mod:`airflow_mlflow_registry.alias_ledger`).

Functions of :class:`~airflow_mlflow_registry.hooks.registry_calls.RegistryCalls`; the hook's
methods of the same names state their contracts. mlflow is imported only inside functions.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.alias_ledger import (
    PROVIDER_MOVES,
    AliasHistory,
    EntryStatus,
    LedgerEntry,
    MoveKind,
    ledger_signer,
    new_entry,
    observation,
    read_entries,
)
from airflow_mlflow_registry.exceptions import AliasMovedError, MlflowRequestError
from airflow_mlflow_registry.hooks.client.mlflow_compat import registry_client_of
from airflow_mlflow_registry.hooks.registry_calls import error_code

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.registry_calls import RegistryCalls
    from airflow_mlflow_registry.utils.signing import RecordSigner

log = logging.getLogger(__name__)

#: How long an observer waits before it reads an unexplained holder again (:func:`_settled`).
SETTLE_SECONDS = 1.0
#: A holder that a provider move of the last this many milliseconds set, but the ledger's last
#: entry does not name, is recorded as ``observed`` (moves that raced landed out of order, or
#: it was moved back from outside); any other unexplained holder as ``seen``.
RACE_WINDOW_MS = 10_000


def get_version_by_alias(
    registry: RegistryCalls, model_name: str, alias: str
) -> ModelVersion | None:
    """The version ``alias`` points at, or None when the alias or the model does not exist
    (MLflow answers INVALID_PARAMETER_VALUE, resp. RESOURCE_DOES_NOT_EXIST; MLflow's
    basic-auth server answers PERMISSION_DENIED to a non-admin user for a model that does not
    exist, which a second look-up of the model tells apart).

    :raises MlflowRequestError: for any other failure, naming the model and alias.
    """
    try:
        return registry.client.get_model_version_by_alias(model_name, alias)
    except Exception as exc:
        code = error_code(exc)
        if code in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST"):
            return None
        if code == "PERMISSION_DENIED" and not _registered_model_exists(registry, model_name):
            return None
        raise registry.request_error(
            f"Reading alias {alias!r} of model {model_name!r}", exc
        ) from exc


@dataclasses.dataclass(frozen=True)
class MoveReason:
    """Why an alias moves, for its ledger entry: the kind of move and what justified it."""

    kind: MoveKind
    why: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class AliasState:
    """What one read of a registered model says about an alias: the version it points at
    (None: the alias does not exist) and the alias's ledger."""

    holder: str | None
    history: AliasHistory


def read_alias_state(
    registry: RegistryCalls, model_name: str, alias: str, signer: RecordSigner | None
) -> AliasState:
    """The alias's holder and ledger, from one read of the registered model.

    :raises MlflowRequestError: naming the model.
    """
    aliases, entries = _read_model(registry, model_name, signer)
    holder = aliases.get(alias)
    return AliasState(
        None if holder is None else str(holder), AliasHistory.of(model_name, alias, entries)
    )


def read_ledger(
    registry: RegistryCalls, model_name: str, signer: RecordSigner | None
) -> list[LedgerEntry]:
    """Every entry of ``model_name``'s alias ledger, oldest first, each checked with
    ``signer``.

    :raises MlflowRequestError: naming the model.
    """
    return _read_model(registry, model_name, signer)[1]


def _read_model(
    registry: RegistryCalls, model_name: str, signer: RecordSigner | None
) -> tuple[dict[str, Any], list[LedgerEntry]]:
    """One read of the registered model: its aliases (alias to version) and its ledger.

    :raises MlflowRequestError: naming the model.
    """
    try:
        model = registry.client.get_registered_model(model_name)
    except Exception as exc:
        raise registry.request_error(f"Reading model {model_name!r}", exc) from exc
    return dict(model.aliases or {}), read_entries(model_name, dict(model.tags or {}), signer)


def set_model_version_alias(
    registry: RegistryCalls,
    model_name: str,
    alias: str,
    version: str | int,
    reason: MoveReason,
) -> str | None:
    """Point ``alias`` at ``version`` unless it already points there, recording the move in
    the ledger (:func:`move_alias`); return the version it pointed at before (None when the
    alias did not exist)."""
    return move_alias(registry, model_name, alias, str(version), reason, ledger_signer()).previous


@dataclasses.dataclass(frozen=True)
class AliasMove:
    """The outcome of :func:`move_alias`: the version the alias pointed at before, and the
    ledger entry of the move (None when the alias already pointed at the version)."""

    previous: str | None
    entry: LedgerEntry | None


def move_alias(
    registry: RegistryCalls,
    model_name: str,
    alias: str,
    version: str,
    reason: MoveReason,
    signer: RecordSigner | None,
    *,
    expected_holder: str | None = None,
    check_holder: bool = False,
) -> AliasMove:
    """Point ``alias`` at ``version`` and record the move in the ledger, signed with
    ``signer`` (:func:`~airflow_mlflow_registry.alias_ledger.ledger_signer`; None: unsigned).

    Before moving, a holder the ledger does not show is recorded as seen (a move made outside
    the provider); after moving, a holder other than the ledger's last entry (moves that raced
    landed in another order) is recorded as observed. With ``check_holder``, the alias must
    still point at ``expected_holder``, else nothing moves (MLflow has no compare-and-set:
    a move landing between this read and the update is not detected).

    :raises AliasMovedError: with ``check_holder``, when the alias points elsewhere.
    :raises MlflowRequestError: naming the model, alias and version.
    """
    started_ms = time.time_ns() // 1_000_000
    state = _settled(registry, read_alias_state(registry, model_name, alias, signer), signer)
    seen = _record_unexplained(registry, state, signer)
    if seen is not None:
        entries = (*state.history.entries, seen)
        state = AliasState(state.holder, dataclasses.replace(state.history, entries=entries))
    if check_holder and state.holder != expected_holder:
        raise AliasMovedError(
            f"Alias {alias!r} of model {model_name!r} points at version "
            f"{state.holder or '(none)'}, not {expected_holder or '(none)'} as expected: it "
            "moved meanwhile; nothing was changed. Look at its history "
            f"(`airflow-mlflow-registry aliases history {model_name} {alias}`) and try again."
        )
    if state.holder == version:
        log.info("Alias %r of model %r already points at version %s.", alias, model_name, version)
        return AliasMove(state.holder, None)
    set_registered_model_alias(registry, model_name, alias, version)
    entry = write_entry(
        registry,
        new_entry(model_name, alias, state.holder, version, reason.kind, reason.why),
        signer,
    )
    log.info(
        "Alias %r of model %r moved from version %s to %s (ledger entry %s).",
        alias,
        model_name,
        state.holder or "(none)",
        version,
        entry.entry_id,
    )
    after = _without_observations_of_move(
        registry, read_alias_state(registry, model_name, alias, signer), version, started_ms
    )
    _record_unexplained(registry, _settled(registry, after, signer), signer)
    return AliasMove(state.holder, entry)


def observe_alias(
    registry: RegistryCalls, model_name: str, alias: str, signer: RecordSigner | None
) -> LedgerEntry | None:
    """The ledger entry that explains where ``alias`` points now: the last trusted entry when
    it names the holder, else a seen (or observed) entry recorded now. None when the alias
    does not exist and the ledger has nothing of it. What a registry-event watch and the
    webhook receiver call when they see an alias move: an observation the connection may not
    write (no EDIT on the model) is logged as a warning and None is returned, so the event
    still goes out.

    :raises MlflowRequestError: when the model cannot be read.
    """
    state = _settled(registry, read_alias_state(registry, model_name, alias, signer), signer)
    try:
        return _record_unexplained(registry, state, signer) or state.history.last
    except MlflowRequestError as exc:
        log.warning(
            "Alias %r of model %r points at version %s, which its ledger does not show, and "
            "recording that failed (the connection needs EDIT on the model to write ledger "
            "tags): %s",
            alias,
            model_name,
            state.holder,
            exc,
        )
        return None


def write_entry(
    registry: RegistryCalls, entry: LedgerEntry, signer: RecordSigner | None
) -> LedgerEntry:
    """Write ``entry`` as its registered-model tag (idempotent: one key per entry; an
    observation written by two observers at once collides like an alias, see
    :func:`set_registered_model_alias`, and is sent once more); return it with the status it
    reads back with (verified when signed, else unsigned).

    :raises MlflowRequestError: naming the model and entry; the alias has moved by then, and
        the next move or observation records it as seen.
    """
    # The registry client itself: MlflowClient's method first reads the model (prompts).
    registry_client = registry_client_of(registry.client)
    _send_once_more_on_collision(
        registry,
        lambda: registry_client.set_registered_model_tag(
            entry.model_name, entry.tag_key, entry.tag_value(signer)
        ),
        f"Recording ledger entry {entry.entry_id} of alias {entry.alias!r} of model "
        f"{entry.model_name!r}",
    )
    return dataclasses.replace(
        entry, status=EntryStatus.UNSIGNED if signer is None else EntryStatus.VERIFIED
    )


def _explained(state: AliasState) -> bool:
    """Whether the ledger's last trusted entry names the holder."""
    last = state.history.last
    return (last.to_version if last else None) == state.holder


def _settled(registry: RegistryCalls, state: AliasState, signer: RecordSigner | None) -> AliasState:
    """``state``, or when its holder is unexplained, a second read :data:`SETTLE_SECONDS`
    later: a provider move writes its entry one request after moving the alias, and an
    observer reading in between must not record that move as seen."""
    if signer is None or _explained(state):
        return state
    time.sleep(SETTLE_SECONDS)
    return read_alias_state(registry, state.history.model_name, state.history.alias, signer)


def _without_observations_of_move(
    registry: RegistryCalls, after: AliasState, version: str, since_ms: int
) -> AliasState:
    """``after`` without the observations of this move: entries naming ``version`` recorded
    as seen or observed since ``since_ms`` (the move's start), by an observer that read between
    the move and its entry. They are deleted from the registry; the move's own entry records
    it."""
    own = (MoveKind.SEEN.value, MoveKind.OBSERVED.value)
    duplicates = [
        e
        for e in after.history.entries
        if e.kind in own and e.to_version == version and e.at >= since_ms
    ]
    registry_client = registry_client_of(registry.client)
    for duplicate in duplicates:
        model_name, key = duplicate.model_name, duplicate.tag_key
        _send_once_more_on_collision(
            registry,
            functools.partial(registry_client.delete_registered_model_tag, model_name, key),
            f"Deleting ledger entry {duplicate.entry_id} of model {model_name!r}",
        )
        log.info(
            "Deleted ledger entry %s: an observer recorded this move as seen before its entry "
            "was written.",
            duplicate.entry_id,
        )
    if not duplicates:
        return after
    kept = tuple(e for e in after.history.entries if e not in duplicates)
    return AliasState(after.holder, dataclasses.replace(after.history, entries=kept))


def _record_unexplained(
    registry: RegistryCalls, state: AliasState, signer: RecordSigner | None
) -> LedgerEntry | None:
    """Record the holder in ``state`` when the ledger's last trusted entry does not name it;
    return that entry (None when the ledger explains the holder, or without a signer: then no
    entry can be trusted, so none can explain anything)."""
    if signer is None or _explained(state):
        return None
    history = state.history
    last = history.last
    now = time.time_ns() // 1_000_000
    recent_targets = {
        e.to_version
        for e in history.trusted
        if e.kind in PROVIDER_MOVES and e.at >= now - RACE_WINDOW_MS
    }
    kind = MoveKind.OBSERVED if state.holder in recent_targets else MoveKind.SEEN
    entry = write_entry(
        registry,
        observation(history.model_name, history.alias, last, state.holder, kind, now),
        signer,
    )
    log.info(
        "Alias %r of model %r points at version %s, which the ledger did not show: recorded as %s.",
        history.alias,
        history.model_name,
        state.holder or "(none)",
        kind.value,
    )
    return entry


def point_aliases(
    registry: RegistryCalls, version: ModelVersion, aliases: list[str], reason: MoveReason
) -> ModelVersion:
    """Point each alias at ``version``, each move recorded in the ledger (:func:`move_alias`).
    The returned version lists all its aliases."""
    signer = ledger_signer() if aliases else None
    for alias in aliases:
        move_alias(registry, version.name, alias, str(version.version), reason, signer)
    version.aliases = sorted({*(version.aliases or []), *aliases})
    return version


def set_registered_model_alias(
    registry: RegistryCalls, model_name: str, alias: str, version: str
) -> None:
    """Point ``alias`` at ``version``, sending once more after a ``BAD_REQUEST``.

    MLflow's SQL store creates an alias by select-then-insert, so two tasks creating the same
    alias at once make one fail with ``BAD_REQUEST`` (a unique-index IntegrityError). Setting an
    alias is idempotent: the re-send updates the row the other task inserted. Uses the registry
    client directly: ``MlflowClient.set_registered_model_alias`` first GETs the model to rule
    out prompts, doubling the requests.

    :raises MlflowRequestError: naming the model, alias and version.
    """
    registry_client = registry_client_of(registry.client)
    _send_once_more_on_collision(
        registry,
        lambda: registry_client.set_registered_model_alias(model_name, alias, version),
        f"Pointing alias {alias!r} of model {model_name!r} at version {version}",
    )


def _send_once_more_on_collision(
    registry: RegistryCalls, send: Callable[[], object], what: str
) -> None:
    """Call ``send``, once more when the server answers ``BAD_REQUEST`` (a concurrent insert
    of the same row won: the update is idempotent).

    :raises MlflowRequestError: starting with ``what``.
    """
    try:
        try:
            send()
        except Exception as exc:
            if error_code(exc) != "BAD_REQUEST":
                raise
            log.warning("%s collided with a concurrent update; sending it again.", what)
            send()
    except Exception as exc:
        raise registry.request_error(what, exc) from exc


def _registered_model_exists(registry: RegistryCalls, model_name: str) -> bool:
    """False when the registry answers RESOURCE_DOES_NOT_EXIST for ``model_name``, True when it
    returns the model or any other error."""
    try:
        registry.client.get_registered_model(model_name)
    except Exception as exc:
        return error_code(exc) != "RESOURCE_DOES_NOT_EXIST"
    return True
