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

"""One poll of a registry-event watch: from a cursor to the events to emit and the next cursor.

Functions of the hook and an :class:`~airflow_mlflow_registry.registry_event_cursor.EventCursor`,
run in a thread by :class:`~airflow_mlflow_registry.triggers.MlflowRegistryEventTrigger`; they
send the registry requests and never touch the state store.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

from airflow_mlflow_registry.alias_ledger import ledger_signer
from airflow_mlflow_registry.assets import tracking_host
from airflow_mlflow_registry.hooks.aliases import observe_alias
from airflow_mlflow_registry.hooks.model_versions import registered_model_created_at
from airflow_mlflow_registry.registry_event_cursor import (
    RECHECK_WINDOW,
    EventCursor,
    Recheck,
    RecheckReason,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook

log = logging.getLogger(__name__)

# Versions read by one poll's search for new versions: events beyond ``max_events_per_poll``
# wait for the next poll, versions that emit nothing (FAILED, untagged) cost no poll each.
SCAN_SIZE = 100


@dataclasses.dataclass(frozen=True)
class WatchOptions:
    """What one watch emits (the trigger's arguments)."""

    model_name: str
    alias: str | None
    tags: Mapping[str, str]
    start_after_version: int | None
    max_events_per_poll: int
    pending_timeout: float
    untagged_recheck: float


Poll = tuple[list[dict[str, Any]], EventCursor]
VersionState = Literal["ready", "untagged", "pending", "failed"]


def poll_registry(
    hook: MlflowRegistryHook, options: WatchOptions, cursor: EventCursor | None
) -> Poll:
    """The payloads to emit (oldest change first, at most ``options.max_events_per_poll``) and
    the cursor after them."""
    server = tracking_host(hook.tracking_uri, hook.config.workspace)
    if cursor is not None and cursor.server is not None and cursor.server != server:
        log.warning(
            "Watching model %r: the connection now points at %s, not %s as when the cursor "
            "was stored; restarting the watch as on its first poll (changes made there "
            "before now emit nothing).",
            options.model_name,
            server,
            cursor.server,
        )
        cursor = None
    if options.alias is not None:
        return _poll_alias(hook, options, cursor, server)
    if cursor is None:
        cursor = _first_cursor(hook, options, server)
        if options.start_after_version is None:
            return [], cursor
    return _poll_new_versions(hook, options, cursor)


def _first_cursor(hook: MlflowRegistryHook, options: WatchOptions, server: str) -> EventCursor:
    """The cursor of a watch's first poll: after ``start_after_version``, or after the newest
    version, with the newest versions still PENDING_REGISTRATION waiting in ``recheck`` (they
    are emitted once READY)."""
    if options.start_after_version is not None:
        return EventCursor(server=server, version=int(options.start_after_version))
    newest = hook.find_versions_after(options.model_name, 0, limit=SCAN_SIZE, newest_first=True)
    if not newest:
        return EventCursor(server=server, version=0)
    now = time.time()
    pending = {
        int(mv.version): Recheck(now, "pending")
        for mv in newest
        if mv.status == "PENDING_REGISTRATION"
    }
    return EventCursor(
        server=server,
        version=int(newest[0].version),
        version_created=int(newest[0].creation_timestamp),
        recheck=pending,
    )


def _poll_new_versions(
    hook: MlflowRegistryHook, options: WatchOptions, cursor: EventCursor
) -> Poll:
    watermark = cursor.watermark
    found = hook.find_versions_after(options.model_name, max(watermark - 1, 0), limit=SCAN_SIZE)
    if watermark > 0:
        anchor = found[0] if found and int(found[0].version) == watermark else None
        restarted = _restart_if_recreated(hook, options, cursor, anchor)
        if restarted is not None:
            return [], restarted
        if anchor is not None:
            found = found[1:]
            if cursor.version_created is None:
                cursor = dataclasses.replace(cursor, version_created=anchor.creation_timestamp)
    payloads: list[dict[str, Any]] = []
    cursor = _recheck(hook, options, cursor, payloads)
    return payloads, _advance(hook, options, cursor, found, payloads)


def _restart_if_recreated(
    hook: MlflowRegistryHook,
    options: WatchOptions,
    cursor: EventCursor,
    anchor: ModelVersion | None,
) -> EventCursor | None:
    """The restarted cursor when the watched model is not the one the cursor was written for
    (deleted, or deleted and re-created under the same name), else None.

    The watermark version, found with another creation time, or missing while the model is
    younger than that version was, tells. A missing watermark version of the same model (a
    deleted version) costs one more request per poll until the watermark moves on."""
    if cursor.version_created is None:
        return None  # a format-1 cursor: checked from the next version on
    if anchor is not None:
        if int(anchor.creation_timestamp) == cursor.version_created:
            return None
        reason = f"version {cursor.watermark} has another creation time"
    else:
        created = registered_model_created_at(hook.registry_calls, options.model_name)
        if created is not None and created <= cursor.version_created:
            return None
        reason = "it was deleted" if created is None else "it was deleted and re-created"
    log.warning(
        "Watching model %r: %s since the cursor was stored (version %s); restarting the "
        "watch: every version the model has now or gets later is emitted.",
        options.model_name,
        reason,
        cursor.watermark,
    )
    return EventCursor(server=cursor.server, version=0)


def _recheck(
    hook: MlflowRegistryHook,
    options: WatchOptions,
    cursor: EventCursor,
    payloads: list[dict[str, Any]],
) -> EventCursor:
    """Re-read the versions waiting in ``recheck`` (one search); append the payloads of those
    now READY and tagged to ``payloads``; drop those FAILED, deleted, out of the window or
    past their wait."""
    if not cursor.recheck:
        return cursor
    lowest = max(min(cursor.recheck), cursor.watermark - RECHECK_WINDOW + 1)
    found = hook.find_versions_after(
        options.model_name, lowest - 1, limit=max(cursor.watermark - lowest + 1, 1)
    )
    by_number = {int(mv.version): mv for mv in found}
    now = time.time()
    waiting: dict[int, Recheck] = {}
    for number, entry in sorted(cursor.recheck.items()):
        mv = by_number.get(number)
        state = _state(mv, options.tags)
        if number < lowest or mv is None or state == "failed":
            why = "deleted" if mv is None else f"{mv.status}"
            if number < lowest:
                why = f"more than {RECHECK_WINDOW} newer versions exist"
            log.warning(
                "Model %r version %s will emit no event: %s.", options.model_name, number, why
            )
        elif state == "ready" and len(payloads) < options.max_events_per_poll:
            payloads.append(_payload(hook, mv))
        elif state == "ready":
            waiting[number] = entry
        else:
            reason = _reason(state)
            limit = options.pending_timeout if reason == "pending" else options.untagged_recheck
            if now - entry.since < limit:
                waiting[number] = Recheck(entry.since, reason)
            else:
                log.warning(
                    "Model %r version %s is still %s after %g s; it will emit no event.",
                    options.model_name,
                    number,
                    _describe(reason),
                    limit,
                )
    return dataclasses.replace(cursor, recheck=waiting)


def _advance(
    hook: MlflowRegistryHook,
    options: WatchOptions,
    cursor: EventCursor,
    found: list[ModelVersion],
    payloads: list[dict[str, Any]],
) -> EventCursor:
    """Move the watermark over ``found`` (versions above it, in order) until
    ``max_events_per_poll`` payloads are in ``payloads``."""
    recheck = dict(cursor.recheck)
    watermark, created = cursor.watermark, cursor.version_created
    now = time.time()
    for mv in found:
        if len(payloads) >= options.max_events_per_poll:
            break
        number = int(mv.version)
        state = _state(mv, options.tags)
        if number in cursor.emitted:
            pass
        elif state == "ready":
            payloads.append(_payload(hook, mv))
        elif state == "failed":
            log.warning(
                "Model %r version %s is %s; no event.", options.model_name, number, mv.status
            )
        elif state == "untagged" and options.untagged_recheck <= 0:
            pass
        else:
            log.info(
                "Model %r version %s is %s; re-checked on each poll.",
                options.model_name,
                number,
                _describe(_reason(state)),
            )
            recheck[number] = Recheck(now, _reason(state))
        watermark, created = number, int(mv.creation_timestamp)
    return dataclasses.replace(
        cursor,
        version=watermark,
        version_created=created,
        recheck=recheck,
        emitted=tuple(n for n in cursor.emitted if n > watermark),
    )


def _state(mv: ModelVersion | None, tags: Mapping[str, str]) -> VersionState:
    """``ready`` (READY with every watched tag), ``untagged`` (READY without them),
    ``pending`` or ``failed`` (also for a missing version)."""
    if mv is None or mv.status not in ("READY", "PENDING_REGISTRATION"):
        return "failed"
    if mv.status == "PENDING_REGISTRATION":
        return "pending"
    return "ready" if tags.items() <= dict(mv.tags or {}).items() else "untagged"


def _reason(state: VersionState) -> RecheckReason:
    return "pending" if state == "pending" else "untagged"


def _describe(reason: RecheckReason) -> str:
    return "pending registration" if reason == "pending" else "without the watched tags"


def _payload(hook: MlflowRegistryHook, mv: ModelVersion) -> dict[str, Any]:
    return {**hook.model_version_record(mv), "event": "new_version", "alias": None}


def _poll_alias(
    hook: MlflowRegistryHook, options: WatchOptions, cursor: EventCursor | None, server: str
) -> Poll:
    """One alias look-up: a payload when the alias points at another version than at the last
    poll (or at a version of a re-created model), READY and tagged; its ``ledger_entry`` is the
    alias ledger's entry of the move (recorded as seen when the ledger did not show it)."""
    assert options.alias is not None
    holder = hook.get_version_by_alias(options.model_name, options.alias)
    current = None if holder is None else str(holder.version)
    created = None if holder is None else int(holder.creation_timestamp)
    seen = EventCursor(server=server, version=current, version_created=created)
    if cursor is None:
        if options.start_after_version is None or holder is None:
            return [], seen
        cursor = EventCursor(server=server, version=str(options.start_after_version))
    if holder is None:
        return [], seen
    same_version = current == cursor.version
    if same_version and cursor.version_created in (None, created):
        return [], seen
    if same_version:
        log.warning(
            "Watching alias %r of model %r: version %s has another creation time (the model "
            "was re-created); emitting it as a move.",
            options.alias,
            options.model_name,
            current,
        )
    if _state(holder, options.tags) != "ready":
        return [], seen
    entry = observe_alias(hook.registry_calls, options.model_name, options.alias, ledger_signer())
    payload = {
        **hook.model_version_record(holder),
        "event": "alias_moved",
        "alias": options.alias,
        "previous_version": cursor.version,
        "ledger_entry": None if entry is None else entry.as_dict(),
    }
    return [payload], seen
