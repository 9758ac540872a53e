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

"""Retention rules: which versions of a registered model a rule lets go. No requests here:
:mod:`~airflow_mlflow_registry.hooks.version_deletion` deletes them.

A :class:`RetentionRule` keeps the ``keep_latest`` newest READY versions (by version number)
and/or every version registered less than ``older_than`` ago; with ``tags``, it looks only at
the versions carrying every one of them (ranking included: "the newest N of the tagged ones"),
and leaves the others alone. Registration states:

- only READY versions count toward ``keep_latest``;
- a version whose registration is in flight (``PENDING_REGISTRATION``, or any state other
  than READY and ``FAILED_REGISTRATION``) is never deleted, and is listed under ``protected``
  when the rule would otherwise let it go;
- a ``FAILED_REGISTRATION`` version is not counted and is deleted when the rule lets it go
  (``older_than`` still keeps a young one).

A version the rule lets go is also kept when an alias points at it, and when it is one of
the last ``keep_alias_holders`` (default 3) versions an alias held by the verified alias ledger
(:func:`~airflow_mlflow_registry.alias_rollback.recent_holders`), so that a rollback target
survives; entries that do not verify protect nothing.

.. seealso:: :doc:`/howto/retention`
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.utils.search_filters import check_search_tags

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

READY = "READY"
#: How many of the last holders of each alias retention keeps by default.
DEFAULT_KEEP_ALIAS_HOLDERS = 3
FAILED = "FAILED_REGISTRATION"
_ISO_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_keep_latest(value: Any, argument: str = "keep_latest") -> int | None:
    """``value`` (None, an int or a numeric string, e.g. a rendered template) as a count >= 0.

    :raises ValueError: naming ``argument`` and the fix.
    """
    if value is None or value == "":
        return None
    try:
        count = int(str(value).strip())
    except ValueError:
        count = -1
    if isinstance(value, (bool, float)) or count < 0:
        raise ValueError(
            f"{argument} must be a whole number of versions to keep (0, 1, 2, ...), got "
            f"{value!r}; e.g. {argument}=10 keeps the ten newest."
        )
    return count


def parse_duration(value: Any, argument: str = "older_than") -> timedelta | None:
    """``value`` as a positive duration: a ``timedelta``, a number of seconds, or an ISO-8601
    duration string in weeks, days, hours, minutes and seconds (``"P30D"``, ``"PT12H"``,
    ``"P1W"``; years and months have no fixed length and are refused).

    :raises ValueError: naming ``argument`` and the fix.
    """
    if value is None or value == "":
        return None
    duration: timedelta | None = None
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        duration = _timedelta(seconds=value) if math.isfinite(value) else None
    elif isinstance(value, str):
        match = _ISO_DURATION.fullmatch(value.strip().upper())
        if match and any(match.groupdict().values()) and not value.strip().endswith("T"):
            duration = _timedelta(
                **{unit: float(amount) for unit, amount in match.groupdict().items() if amount}
            )
    if duration is None or duration <= timedelta(0):
        raise ValueError(
            f"{argument} must be a positive duration: a timedelta, a number of seconds, or an "
            f"ISO-8601 duration such as 'P30D' (30 days) or 'PT12H' (12 hours); got {value!r}."
        )
    return duration


def _keep_alias_holders(value: Any) -> int:
    """``value`` as a count of holders to keep (None: the default).

    :raises ValueError: naming ``keep_alias_holders`` and the fix.
    """
    count = parse_keep_latest(value, "keep_alias_holders")
    return DEFAULT_KEEP_ALIAS_HOLDERS if count is None else count


def _timedelta(**amounts: float) -> timedelta | None:
    """``timedelta(**amounts)``, or None when it exceeds what a ``timedelta`` holds (about
    2.7 million years)."""
    try:
        return timedelta(**amounts)
    except OverflowError:
        return None


def check_rule_given(keep_latest: Any, older_than: Any) -> None:
    """:raises ValueError: when neither ``keep_latest`` nor ``older_than`` is given."""
    if keep_latest is None and older_than is None:
        raise ValueError(
            "Give keep_latest (keep the N newest versions), older_than (delete versions older "
            "than this duration, e.g. 'P30D') or both; with neither, nothing would be deleted."
        )


def check_max_deletions(value: Any) -> int | None:
    """``value`` checked as a limit on deletions per run (None: no limit).

    :raises ValueError: unless it is None or a whole number >= 1.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(
            f"max_deletions must be a whole number >= 1, or None for no limit; got {value!r}."
        )
    return value


@dataclass(frozen=True)
class RetentionRule:
    """Which versions of a model to keep; see the module docstring.

    Build it with :meth:`of`, which checks the arguments.
    """

    keep_latest: int | None = None
    older_than: timedelta | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    keep_alias_holders: int = DEFAULT_KEEP_ALIAS_HOLDERS

    @classmethod
    def of(
        cls,
        *,
        keep_latest: Any = None,
        older_than: Any = None,
        tags: Any = None,
        keep_alias_holders: Any = DEFAULT_KEEP_ALIAS_HOLDERS,
    ) -> RetentionRule:
        """A checked rule (``keep_alias_holders``: see the module docstring; 0 keeps none).

        :raises ValueError: naming the argument: a negative or non-numeric ``keep_latest``, a
            ``older_than`` that is not a positive duration, neither of them given, or ``tags``
            that are not str to str (or hold a single quote, which MLflow filters cannot
            escape).
        """
        rule = cls(
            keep_latest=parse_keep_latest(keep_latest),
            older_than=parse_duration(older_than),
            tags=check_search_tags(tags, "tags"),
            keep_alias_holders=_keep_alias_holders(keep_alias_holders),
        )
        check_rule_given(rule.keep_latest, rule.older_than)
        return rule

    def cutoff(self, now: datetime) -> datetime | None:
        """Versions registered before this instant are old enough to go; None: any age."""
        return None if self.older_than is None else now - self.older_than

    def as_record(self) -> dict[str, Any]:
        """The rule as JSON-able fields for the XCom record."""
        return {
            "keep_latest": self.keep_latest,
            "older_than_seconds": (
                None if self.older_than is None else self.older_than.total_seconds()
            ),
            "tags": dict(self.tags),
            "keep_alias_holders": self.keep_alias_holders,
        }


@dataclass(frozen=True)
class RetentionPlan:
    """The rule applied to one model's versions: those to delete (oldest first) and those the
    rule lets go but that are kept (an alias, a registration in flight), with the reason."""

    expired: list[dict[str, Any]]
    protected: list[dict[str, Any]]
    examined: int


def plan_retention(
    versions_newest_first: Iterable[Mapping[str, Any]],
    rule: RetentionRule,
    now: datetime,
    recent_holders: Mapping[str, Iterable[str]] | None = None,
) -> RetentionPlan:
    """Apply ``rule`` to version records (the hook's record dicts: ``version``,
    ``registered_at``, ``aliases``, ``status``, ...), given highest version first, as of
    ``now``: only READY versions count toward ``keep_latest``; a version in
    ``recent_holders`` (version to the aliases it recently held) is kept. No requests.
    """
    cutoff = rule.cutoff(now)
    expired: list[dict[str, Any]] = []
    protected: list[dict[str, Any]] = []
    examined = 0
    ready_seen = 0
    for record in versions_newest_first:
        examined += 1
        if record["status"] == READY:
            ready_seen += 1
            if rule.keep_latest is not None and ready_seen <= rule.keep_latest:
                continue
        if cutoff is not None and datetime.fromisoformat(record["registered_at"]) >= cutoff:
            continue
        reason = keep_reason(record["status"], record.get("aliases") or [])
        held = sorted((recent_holders or {}).get(record["version"], []))
        if reason is None and held:
            reason = "recent holder of alias " + ", ".join(repr(name) for name in held)
        if reason is not None:
            protected.append({"version": record["version"], "reason": reason})
        else:
            expired.append(deletion_entry(record))
    expired.sort(key=lambda entry: int(entry["version"]))
    return RetentionPlan(expired=expired, protected=protected, examined=examined)


def keep_reason(status: str, aliases: Iterable[str]) -> str | None:
    """Why a version the rule lets go must stay: the aliases pointing at it, or its
    registration state when that is neither READY nor FAILED_REGISTRATION (a registration in
    flight); None when it may be deleted."""
    names = sorted(aliases)
    if names:
        return "alias " + ", ".join(repr(name) for name in names)
    if status not in (READY, FAILED):
        return status
    return None


def describe_rule(rule: RetentionRule) -> str:
    """The rule in words, for logs."""
    parts = []
    if rule.keep_latest is not None:
        parts.append(f"keep the {rule.keep_latest} newest")
    if rule.older_than is not None:
        parts.append(f"keep those younger than {rule.older_than}")
    if rule.tags:
        parts.append(f"only versions tagged {dict(rule.tags)}")
    return "; ".join(parts)


def deletion_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "version": record["version"],
        "registered_at": record["registered_at"],
        "run_id": record["run_id"],
        "source": record["source"],
        "status": record["status"],
    }
