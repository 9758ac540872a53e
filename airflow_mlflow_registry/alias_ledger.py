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

"""The alias ledger: every move of a model's aliases on record, in the registry itself.

Each entry is one registered-model tag ``airflow.ledger.<entry id>`` whose value is the JSON of
a :class:`LedgerEntry` (alias, from and to version, when, by whom, what kind of move, why)
with Airflow's signature (:mod:`.utils.signing`). One tag per entry: MLflow tags are
last-writer-wins, so two moves recorded at the same moment from two workers are two keys and
both stay. Any MLflow user can read the ledger; only a holder of Airflow's signing secret can
write an entry that verifies, and a history read marks every entry that does not
(:class:`EntryStatus`).

The order of entries is the order of their ``at`` times (then their ids). Moves that race on
one alias can land on the server in another order than they were recorded; the mover that
notices (the alias holds another version than the ledger's last entry says) records what it saw
as an ``observed`` entry, so the ledger's last entry names the version the alias holds. A move
made outside the provider is recorded as ``seen`` (author unknown) by the first observer that
notices it: a provider move (before it moves), a registry-event watch or the webhook receiver;
all observers give the same observation the same id, so it is recorded once. An observer waits
a second and reads again before recording (a provider move writes its entry one request after
the alias), and a mover deletes an observation of its own move written in between.

.. seealso:: :doc:`/howto/govern_promotions`
"""

from __future__ import annotations

import enum
import getpass
import hashlib
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.utils.signing import SignatureCheck

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from airflow_mlflow_registry.utils.signing import RecordSigner

log = logging.getLogger(__name__)

LEDGER_TAG_PREFIX = "airflow.ledger."
#: Characters of ``why`` kept in an entry; registry tag values have a size limit.
MAX_WHY_CHARACTERS = 2000


class MoveKind(str, enum.Enum):
    """What made an alias move (or what an entry records)."""

    REGISTER = "register"  # RegisterModelVersionOperator / register_model_version(aliases=...)
    SET_ALIAS = "set_alias"  # SetModelVersionAliasOperator
    APPROVAL = "approval"  # ApproveModelVersionOperator, after the required approvals
    COPY = "copy"  # CopyModelVersionOperator pointing aliases in the target registry
    BACKFILL = "backfill"  # backfill_registrations pointing aliases at the newest run
    ROLLBACK = "rollback"  # RollbackModelVersionAliasOperator / `aliases rollback`
    CLI = "cli"  # any other move made by the command line
    #: A move made outside the provider, noticed by an observer; author unknown.
    SEEN = "seen"
    #: The alias was seen at ``to``, which a provider move of the last few seconds set but the
    #: ledger's last entry does not name: racing moves landed in another order than recorded
    #: (or it was moved back from outside); author unknown.
    OBSERVED = "observed"


#: Kinds (values) of the entries that record a move the provider made itself.
PROVIDER_MOVES = frozenset(
    kind.value for kind in MoveKind if kind not in (MoveKind.SEEN, MoveKind.OBSERVED)
)


class EntryStatus(enum.Enum):
    """What checking an entry's signature found."""

    VERIFIED = "verified"
    #: Written without a signing secret configured: anyone could have written it.
    UNSIGNED = "unsigned"
    #: Signed with another secret (before a rotation): cannot be checked.
    OTHER_KEY = "other key"
    #: Changed or forged: its signature does not match.
    TAMPERED = "tampered"


@dataclass(frozen=True)
class LedgerEntry:
    """One entry of a model's alias ledger.

    :param entry_id: the tag key's suffix (``<at>.<random>``, or ``seen.<digest>`` for
        observations, which every observer names alike).
    :param model_name: the registered model.
    :param alias: the alias that moved.
    :param from_version: the version it pointed at before (None: it did not exist).
    :param to_version: the version it points at after (None: it was deleted).
    :param at: when, milliseconds since the epoch (the mover's clock).
    :param by: who: ``<dag_id>/<run_id>/<task_id>/try <n>`` (plus ``/map <i>``) for a task,
        ``cli:<user>`` for the command line, ``unknown`` for a move seen from outside.
    :param kind: a :class:`MoveKind` value.
    :param why: what justified the move (the metric guard's values, the approvers, the
        rollback's reason), as short strings.
    :param status: the result of the signature check (set when read).
    """

    entry_id: str
    model_name: str
    alias: str
    from_version: str | None
    to_version: str | None
    at: int
    by: str
    kind: str
    why: dict[str, str] = field(default_factory=dict)
    status: EntryStatus = EntryStatus.UNSIGNED

    @property
    def tag_key(self) -> str:
        """The registered-model tag holding this entry."""
        return LEDGER_TAG_PREFIX + self.entry_id

    @property
    def trusted(self) -> bool:
        """True when the entry's signature verifies with Airflow's secret."""
        return self.status is EntryStatus.VERIFIED

    def signed_fields(self) -> dict[str, str | None]:
        """What the signature covers: every field, the model and the entry id included, so an
        entry cannot be moved to another model, alias or position."""
        return {
            "id": self.entry_id,
            "model": self.model_name,
            "alias": self.alias,
            "from": self.from_version,
            "to": self.to_version,
            "at": str(self.at),
            "by": self.by,
            "kind": self.kind,
            "why": json.dumps(self.why, sort_keys=True),
        }

    def tag_value(self, signer: RecordSigner | None) -> str:
        """The tag value: the entry's JSON with ``sig`` (absent without a signer)."""
        record: dict[str, Any] = {
            "alias": self.alias,
            "from": self.from_version,
            "to": self.to_version,
            "at": self.at,
            "by": self.by,
            "kind": self.kind,
            "why": self.why,
        }
        if signer is not None:
            record["sig"] = signer.sign(self.signed_fields())
        return json.dumps(record, sort_keys=True, separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        """The entry as JSON-ready data (``status`` as its value), for XCom, events and
        ``--json``."""
        data = asdict(self)
        data["status"] = self.status.value
        return data


def new_entry(
    model_name: str,
    alias: str,
    from_version: str | None,
    to_version: str | None,
    kind: MoveKind,
    why: Mapping[str, Any] | None = None,
    *,
    by: str | None = None,
    at: int | None = None,
) -> LedgerEntry:
    """An entry for a move at ``at`` (default: now), by :func:`current_actor` unless ``by`` is
    given; ``why``'s values are made strings and cut to :data:`MAX_WHY_CHARACTERS` in all."""
    at = time.time_ns() // 1_000_000 if at is None else at
    return LedgerEntry(
        entry_id=f"{at:013d}.{secrets.token_hex(4)}",
        model_name=model_name,
        alias=alias,
        from_version=from_version,
        to_version=to_version,
        at=at,
        by=by or current_actor(),
        kind=kind.value,
        why=_short_why(why or {}),
    )


def observation(
    model_name: str,
    alias: str,
    last: LedgerEntry | None,
    holder: str | None,
    kind: MoveKind,
    observed_at: int,
) -> LedgerEntry:
    """The entry recording that ``alias`` was seen at ``holder`` while the ledger's last
    entry (``last``) says otherwise. Its id depends only on the alias, ``last`` and ``holder``,
    so every observer of the same change writes the same tag: it is recorded once."""
    basis = "\x1f".join((model_name, alias, last.entry_id if last else "", holder or ""))
    digest = hashlib.sha256(basis.encode()).hexdigest()[:20]
    return LedgerEntry(
        entry_id=f"{kind.value}.{digest}",
        model_name=model_name,
        alias=alias,
        from_version=last.to_version if last else None,
        to_version=holder,
        at=observed_at,
        by="unknown" if kind is MoveKind.SEEN else current_actor(),
        kind=kind.value,
    )


def entry_from_tag(
    model_name: str, key: str, value: str, signer: RecordSigner | None
) -> LedgerEntry | None:
    """The entry a ledger tag holds, its signature checked with ``signer`` (without one, every
    entry is :attr:`EntryStatus.UNSIGNED` at best); None when ``key`` is not a ledger tag. A
    value that is not an entry's JSON is returned as a :attr:`EntryStatus.TAMPERED` entry
    (nothing of it is trusted)."""
    if not key.startswith(LEDGER_TAG_PREFIX):
        return None
    entry_id = key[len(LEDGER_TAG_PREFIX) :]
    try:
        record = json.loads(value)
        entry = LedgerEntry(
            entry_id=entry_id,
            model_name=model_name,
            alias=str(record["alias"]),
            from_version=_optional_str(record.get("from")),
            to_version=_optional_str(record.get("to")),
            at=int(record["at"]),
            by=str(record.get("by", "")),
            kind=str(record.get("kind", "")),
            why={str(k): str(v) for k, v in dict(record.get("why") or {}).items()},
        )
        signature = record.get("sig")
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("Ledger tag %r of model %r is not a ledger entry: tampered.", key, model_name)
        return LedgerEntry(
            entry_id, model_name, "", None, None, 0, "", "", {}, EntryStatus.TAMPERED
        )
    return replace(entry, status=_status(entry, signature, signer))


def read_entries(
    model_name: str, tags: Mapping[str, str], signer: RecordSigner | None
) -> list[LedgerEntry]:
    """Every ledger entry among a registered model's ``tags``, oldest first."""
    entries = (entry_from_tag(model_name, key, value, signer) for key, value in tags.items())
    return sorted((e for e in entries if e is not None), key=lambda e: (e.at, e.entry_id))


@dataclass(frozen=True)
class AliasHistory:
    """The ledger of one alias, oldest entry first."""

    model_name: str
    alias: str
    entries: tuple[LedgerEntry, ...]

    @classmethod
    def of(cls, model_name: str, alias: str, entries: Iterable[LedgerEntry]) -> AliasHistory:
        """The entries of ``alias`` among ``entries`` (in their order)."""
        return cls(model_name, alias, tuple(e for e in entries if e.alias == alias))

    @property
    def trusted(self) -> tuple[LedgerEntry, ...]:
        """The entries whose signature verifies; only these decide anything."""
        return tuple(e for e in self.entries if e.trusted)

    @property
    def last(self) -> LedgerEntry | None:
        """The newest trusted entry, or None."""
        trusted = self.trusted
        return trusted[-1] if trusted else None

    def holders(self) -> list[str | None]:
        """The versions the alias held, by the trusted entries, oldest first, without repeats
        in a row (an observation of the holder a move recorded adds nothing)."""
        holders: list[str | None] = []
        for entry in self.trusted:
            if not holders or holders[-1] != entry.to_version:
                if not holders and entry.from_version is not None:
                    holders.append(entry.from_version)
                holders.append(entry.to_version)
        return holders

    def untrusted(self) -> tuple[LedgerEntry, ...]:
        """The entries that do not verify (tampered, unsigned, another key)."""
        return tuple(e for e in self.entries if not e.trusted)


def current_actor() -> str:
    """Who is moving: the running task instance (``<dag_id>/<run_id>/<task_id>/try <n>``, plus
    ``/map <i>`` when mapped) or, outside a task, ``cli:<login name>``."""
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
    except Exception:
        try:
            return f"cli:{getpass.getuser()}"
        except Exception:
            return "cli:unknown"
    actor = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/try {ti.try_number}"
    map_index = getattr(ti, "map_index", -1)
    return actor if map_index is None or map_index < 0 else f"{actor}/map {map_index}"


def ledger_signer() -> RecordSigner | None:
    """Airflow's signer (:func:`~.utils.signing.task_signer`) when the signing secret is
    configured where this process can read it, else None: moves are then recorded unsigned
    (and nothing in the ledger is trusted), and a warning says how to set the secret."""
    from airflow_mlflow_registry.utils.signing import task_signer

    try:
        return task_signer()
    except Exception as exc:  # a missing secret, or a secrets backend that failed
        log.warning("Alias ledger entries are recorded unsigned and not checked: %s", exc)
        return None


def _status(entry: LedgerEntry, signature: object, signer: RecordSigner | None) -> EntryStatus:
    if signature is None:
        return EntryStatus.UNSIGNED
    if signer is None or not isinstance(signature, str):
        return EntryStatus.UNSIGNED if signer is None else EntryStatus.TAMPERED
    check = signer.check(entry.signed_fields(), signature)
    if check is SignatureCheck.VALID:
        return EntryStatus.VERIFIED
    if check is SignatureCheck.OTHER_KEY:
        return EntryStatus.OTHER_KEY
    log.warning(
        "Ledger entry %r of model %r (alias %r) does not verify: tampered.",
        entry.entry_id,
        entry.model_name,
        entry.alias,
    )
    return EntryStatus.TAMPERED


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _short_why(why: Mapping[str, Any]) -> dict[str, str]:
    kept: dict[str, str] = {}
    budget = MAX_WHY_CHARACTERS
    for key, value in why.items():
        text = str(value)[: max(budget, 0)]
        budget -= len(text) + len(str(key))
        kept[str(key)] = text
    return kept
