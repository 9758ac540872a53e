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

"""The cursor of a registry-event watch: what
:class:`~airflow_mlflow_registry.triggers.MlflowRegistryEventTrigger` has emitted.

Both delivery paths of registry events read and write it: the polling trigger, and a receiver
of pushed changes (webhooks) that must not emit a change the poll already emitted, nor make
the poll emit one it already recorded. :meth:`EventCursor.was_emitted` and
:meth:`EventCursor.with_emitted` are the de-duplication both sides use.

Where it lives: on Airflow 3.3+, in the asset state store of the asset the watch's
``AssetWatcher`` is attached to, under :func:`cursor_key` (``mlflow_registry_event_cursor:``
and 16 hex digits of a hash of the connection id, model name, alias and sorted tags). Before
Airflow 3.3 it lives only in the running trigger.

Stored value (format 2), a JSON object:

``format``
    ``2``. A stored value of another format (format 1 was ``{"version": N}``) is upgraded by
    :meth:`EventCursor.from_stored`: its ``version`` is kept, its identity fields are unknown.
``server``
    :func:`~airflow_mlflow_registry.assets.tracking_host` of the connection's tracking URI and
    workspace when the cursor was written (``host[:port][/prefix][/workspaces/<workspace>]``,
    no user info). A watch that finds another value restarts (with a warning): the connection
    now points at another registry.
``version``
    A new-version watch: the watermark, an int. Every version numbered up to it has been
    handled: emitted, passed over (FAILED_REGISTRATION, deleted, or dropped from ``recheck``),
    or is listed in ``recheck``. An alias watch: the version (a string) the alias pointed at
    when last seen, or null.
``version_created``
    ``creation_timestamp`` (milliseconds) of version ``version`` as the registry reported it, or
    null (no version yet, or unknown). The model's identity: a model deleted and re-created
    under the same name gives its version ``version`` another creation time (or has none), and
    the watch restarts (with a warning).
``recheck``
    New-version watches: ``{"<version>": {"since": <epoch seconds>, "reason": "pending" |
    "untagged"}}``, the versions up to the watermark that are not emitted yet: still
    PENDING_REGISTRATION, or READY without the watch's tags. They are emitted once READY and
    tagged, and dropped (with a log line) after their wait, when FAILED or deleted, or when more
    than :data:`RECHECK_WINDOW` versions are newer.
``emitted``
    New-version watches: versions above the watermark already emitted (by a push receiver),
    sorted. The poll passes over them and drops them as the watermark moves past.

Importing this module imports neither mlflow nor Airflow.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping

CURSOR_FORMAT = 2
CURSOR_KEY_PREFIX = "mlflow_registry_event_cursor"
#: A version is re-checked only while fewer than this many versions are numbered above it: one
#: search request bounded to this many versions re-reads every version still waiting.
RECHECK_WINDOW = 200

RecheckReason = Literal["pending", "untagged"]


def cursor_key(
    mlflow_conn_id: str, model_name: str, alias: str | None, tags: Mapping[str, str]
) -> str:
    """The state-store key of one watch: the same for the same connection id, model, alias and
    tags (whatever the poll interval or other options)."""
    identity = json.dumps([mlflow_conn_id, model_name, alias, sorted(tags.items())])
    return f"{CURSOR_KEY_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


@dataclasses.dataclass(frozen=True)
class Recheck:
    """A version up to the watermark that is not emitted yet, waiting since ``since`` (epoch
    seconds, when the watch first saw it) because it is ``reason``."""

    since: float
    reason: RecheckReason


@dataclasses.dataclass(frozen=True)
class EventCursor:
    """One watch's cursor (see the module documentation for each field). Immutable: the
    ``with_...`` methods return a new cursor."""

    server: str | None
    version: int | str | None
    version_created: int | None = None
    recheck: Mapping[int, Recheck] = dataclasses.field(default_factory=dict)
    emitted: tuple[int, ...] = ()

    @classmethod
    def from_stored(cls, value: Any) -> EventCursor | None:
        """The cursor stored as ``value`` (format 1 or 2), or None for anything else (a watch
        without a usable cursor starts as on its first poll)."""
        if not isinstance(value, dict) or "version" not in value:
            return None
        if value.get("format") != CURSOR_FORMAT:
            return cls(server=None, version=value["version"])
        recheck = {
            int(number): Recheck(float(entry["since"]), entry["reason"])
            for number, entry in (value.get("recheck") or {}).items()
        }
        return cls(
            server=value.get("server"),
            version=value["version"],
            version_created=value.get("version_created"),
            recheck=recheck,
            emitted=tuple(sorted(int(v) for v in value.get("emitted") or ())),
        )

    def to_stored(self) -> dict[str, Any]:
        """The JSON object stored in the asset state store (format 2)."""
        return {
            "format": CURSOR_FORMAT,
            "server": self.server,
            "version": self.version,
            "version_created": self.version_created,
            "recheck": {
                str(number): {"since": entry.since, "reason": entry.reason}
                for number, entry in sorted(self.recheck.items())
            },
            "emitted": sorted(self.emitted),
        }

    @property
    def watermark(self) -> int:
        """A new-version watch's watermark as an int (0 when none)."""
        return int(self.version or 0)

    def was_emitted(self, version: int | str) -> bool:
        """Whether a new-version watch has emitted (or passed over for good) ``version``: True
        for versions up to the watermark that are not waiting in ``recheck``, and for those in
        ``emitted``. A push receiver emits a change only when this is False."""
        number = int(version)
        if number <= self.watermark:
            return number not in self.recheck
        return number in self.emitted

    def with_emitted(self, version: int | str) -> EventCursor:
        """This cursor after ``version`` was emitted outside the poll's order (by a push
        receiver, or a waiting version that became ready): out of ``recheck``, or into
        ``emitted`` when above the watermark."""
        number = int(version)
        if number <= self.watermark:
            recheck = {n: entry for n, entry in self.recheck.items() if n != number}
            return dataclasses.replace(self, recheck=recheck)
        return dataclasses.replace(self, emitted=tuple(sorted({*self.emitted, number})))

    def merged_with(self, stored: EventCursor | None) -> EventCursor:
        """This cursor with what another writer (a push receiver) recorded in ``stored`` since
        this one was read: its ``emitted`` versions, and the ``recheck`` entries it removed."""
        if stored is None or stored.server != self.server:
            return self
        merged = self
        for number in stored.emitted:
            merged = merged.with_emitted(number)
        if stored.watermark >= self.watermark:
            for number in set(self.recheck) - set(stored.recheck):
                if number <= stored.watermark:
                    merged = merged.with_emitted(number)
        return merged
