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

"""``MlflowRegistryEventTrigger``: event-driven scheduling on a model's registry changes.

Put it in an ``AssetWatcher`` on the model's asset and schedule a DAG on that asset::

    asset = model_asset("mlflow_default", "churn", watchers=[
        AssetWatcher(name="churn-versions", trigger=MlflowRegistryEventTrigger(model_name="churn")),
    ])

The trigger runs in the triggerer for as long as a DAG watches the asset and emits one event
per change it sees, whoever made it (notebooks, CI, the MLflow UI, this provider).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import TriggerEvent

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.registry_event_cursor import EventCursor, cursor_key
from airflow_mlflow_registry.triggers.registry_event_polls import WatchOptions, poll_registry
from airflow_mlflow_registry.utils.search_filters import check_search_tags
from airflow_mlflow_registry.version_compat import BaseEventTrigger, trigger_asset_state_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

# After yielding events the trigger waits this long before it moves its stored cursor past
# them: the triggerer hands events to its supervisor once a second, which stores them in its
# next one-second loop. A triggerer stopped inside the margin emits those events again after a
# restart (one extra run) rather than never.
CURSOR_COMMIT_DELAY_SECONDS = 3.0
DEFAULT_PENDING_TIMEOUT_SECONDS = 3600.0
DEFAULT_UNTAGGED_RECHECK_SECONDS = 86400.0


class MlflowRegistryEventTrigger(BaseEventTrigger):
    """Watch one registered model and emit an event for each change past a cursor.

    Modes:

    - without ``alias``: each new version that is READY and carries every tag in ``tags``.
      A version still PENDING_REGISTRATION does not hold back later versions: they are emitted
      meanwhile, and the pending one when it becomes READY, if it does within
      ``pending_timeout`` seconds of the watch first seeing it (else a warning is logged and it
      emits nothing). A FAILED_REGISTRATION version emits nothing (a warning). With ``tags``, a
      READY version without them is re-checked on each poll for ``untagged_recheck`` seconds
      (register, validate, then tag): it is emitted when it gets the tags within that time and
      while fewer than 200 versions are numbered above it. Events of waiting versions can come
      after those of higher versions.
    - with ``alias``: each time the alias points at another version than at the last poll (a
      move, a rollback); with ``tags``, only when that version carries them. A move and a move
      back between two polls are not seen (polling sees states, not moves); a removed alias
      emits nothing.

    Each poll sends one request (a search of up to 100 versions ordered by version number, or
    one alias look-up), plus one search when versions wait for READY or tags, plus one model
    look-up in the poll after the version at the cursor was deleted. It emits at most
    ``max_events_per_poll`` events. With the default 1, each change gets its own DAG run as
    long as the scheduler creates runs faster than ``poll_interval``; a backlog of N versions
    then takes N polls. A larger value drains a backlog that many versions per poll, but on
    Airflow 3.0 to 3.3 the run the scheduler starts for a poll's events may receive only the
    first of them: the others are given to the run that the asset's next event starts
    (apache/airflow#56749; Airflow 3.4 starts one run per event). A DAG run can carry several
    events (``triggering_asset_events``): handle each of them.

    The first poll without a stored cursor emits nothing and starts the cursor at the newest
    version (versions then PENDING_REGISTRATION are emitted when they become READY), or at the
    alias's current version, unless ``start_after_version`` is given: then versions above it
    are emitted (``0``: every version). On Airflow 3.3+ the cursor is kept in the asset state
    store of the watching asset (format:
    :mod:`airflow_mlflow_registry.registry_event_cursor`), so a triggerer restart continues
    where it stopped. Before 3.3 it lives in the trigger only: after a restart the trigger
    starts again as on its first poll.

    The cursor records the registry it was written for and the creation time of the version it
    stands at. When the connection points at another server, the watch restarts as on a first
    poll; when the model was deleted (and re-created under its name), it restarts before
    version 1, so every version of the new model is emitted. Both log a warning.

    Errors (server unreachable, 401/403, a rejected filter) and failures to read or write the
    state store are logged and polled again: a watcher has no task to fail. A cursor that
    could not be stored is kept in memory and stored on the next poll.

    Event payload: the hook's version record (``model_name``, ``version``, ``model_uri``,
    ``source``, ``run_id``, ``status``, ``aliases``, ``tags``, ``lineage``, ``tracking_uri``,
    ``registered_at``, ``model_version_url``, ...) plus ``event`` (``"new_version"`` or
    ``"alias_moved"``), ``alias`` and ``previous_version`` (alias mode). Airflow records it as
    the asset event's ``extra["payload"]``.

    With ``webhook=True`` (an MLflow webhook also records this model's changes through the
    provider's receiver, and this watch reconciles what no delivery recorded), each change is
    claimed in the stored cursor just before it is emitted, and a change the receiver recorded
    since the poll read the cursor is not emitted: one event per change, whichever path sees
    it first (Airflow 3.3+; before 3.3 there is no shared cursor and both paths emit). A
    triggerer stopped between a claim and the event's recording (about a second) loses that
    change if its delivery came after the claim.

    :raises ValueError: at construction, for a ``poll_interval`` or ``max_events_per_poll``
        below its minimum, or a negative ``pending_timeout`` or ``untagged_recheck``.
    """

    def __init__(
        self,
        *,
        model_name: str,
        mlflow_conn_id: str = "mlflow_default",
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        poll_interval: float = 60.0,
        start_after_version: int | None = None,
        max_events_per_poll: int = 1,
        pending_timeout: float = DEFAULT_PENDING_TIMEOUT_SECONDS,
        untagged_recheck: float = DEFAULT_UNTAGGED_RECHECK_SECONDS,
        webhook: bool = False,
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}.")
        if int(max_events_per_poll) < 1:
            raise ValueError(
                f"max_events_per_poll must be at least 1, got {max_events_per_poll!r}."
            )
        for name, value in (
            ("pending_timeout", pending_timeout),
            ("untagged_recheck", untagged_recheck),
        ):
            if value < 0:
                raise ValueError(f"{name} must be 0 or more seconds, got {value!r}.")
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.alias = alias
        self.tags = dict(check_search_tags(tags, "tags"))
        self.poll_interval = float(poll_interval)
        self.start_after_version = start_after_version
        self.max_events_per_poll = int(max_events_per_poll)
        self.pending_timeout = float(pending_timeout)
        self.untagged_recheck = float(untagged_recheck)
        self.webhook = bool(webhook)
        self._without_store = False

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "model_name": self.model_name,
                "mlflow_conn_id": self.mlflow_conn_id,
                "alias": self.alias,
                "tags": self.tags,
                "poll_interval": self.poll_interval,
                "start_after_version": self.start_after_version,
                "max_events_per_poll": self.max_events_per_poll,
                "pending_timeout": self.pending_timeout,
                "untagged_recheck": self.untagged_recheck,
                "webhook": self.webhook,
            },
        )

    @property
    def cursor_key(self) -> str:
        """The state-store key of this watch (:func:`.registry_event_cursor.cursor_key`): the
        same for the same connection, model, alias and tags."""
        return cursor_key(self.mlflow_conn_id, self.model_name, self.alias, self.tags)

    def _options(self) -> WatchOptions:
        return WatchOptions(
            model_name=self.model_name,
            alias=self.alias,
            tags=self.tags,
            start_after_version=self.start_after_version,
            max_events_per_poll=self.max_events_per_poll,
            pending_timeout=self.pending_timeout,
            untagged_recheck=self.untagged_recheck,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        options = self._options()
        cursor: EventCursor | None = None
        stored: EventCursor | None = None
        loaded = False
        while True:
            # Re-read each poll: a push receiver may have recorded versions it emitted. Until a
            # first read succeeds the registry is not polled: a cursor that exists but could
            # not be read must not be replaced by a first poll's.
            read, latest = await self._load_cursor()
            loaded = loaded or read
            if cursor is None:
                cursor = latest
            elif latest is not None:
                cursor = cursor.merged_with(latest)
            payloads: list[dict[str, Any]] = []
            new_cursor = cursor
            try:
                if loaded:
                    payloads, new_cursor = await asyncio.to_thread(
                        poll_registry, hook, options, cursor
                    )
            except Exception as exc:
                self.log.warning(
                    "Watching model %r: %s; polling again in %g s.",
                    self.model_name,
                    hook.registry_calls.redact(str(exc)),
                    self.poll_interval,
                )
            waited = 0.0
            if payloads and self.webhook and cursor is not None:
                payloads = await self._claim(cursor, payloads)
            for payload in payloads:
                yield TriggerEvent(payload)
            if payloads:
                waited = min(CURSOR_COMMIT_DELAY_SECONDS, self.poll_interval)
                await asyncio.sleep(waited)
            cursor = new_cursor
            if cursor is not None and cursor != stored and await self._store_cursor(cursor):
                stored = cursor
            await asyncio.sleep(self.poll_interval - waited)

    async def _load_cursor(self) -> tuple[bool, EventCursor | None]:
        """Whether the read succeeded (no store counts as success), and the stored cursor or
        None. A failed read is logged."""
        store = trigger_asset_state_store(self)
        if store is None or self._without_store:
            return True, None
        try:
            value = await store.aget(self.cursor_key)
        except ValueError as exc:  # watched by several assets: no single store to use
            self.log.warning("No asset state store for the cursor (%s); keeping it in memory.", exc)
            self._without_store = True
            return True, None
        except Exception as exc:
            self._log_store_failure("read", exc)
            return False, None
        return True, EventCursor.from_stored(value)

    async def _store_cursor(self, cursor: EventCursor) -> bool:
        """Store ``cursor``; False when there is no store or it failed (logged). Never raises:
        an exception here, after the events were yielded, would make the triggerer start the
        trigger again from the old cursor and emit them twice."""
        store = trigger_asset_state_store(self)
        if store is None or self._without_store:
            return False
        try:
            await store.aset(self.cursor_key, cursor.to_stored())
        except Exception as exc:
            self._log_store_failure("write", exc)
            return False
        return True

    async def _claim(
        self, read: EventCursor, payloads: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """With ``webhook``: the payloads still to emit. Those the webhook receiver already
        recorded (its record, :data:`~airflow_mlflow_registry.webhooks.changes.RECORDED_KEY`) are
        dropped; the rest are marked emitted in the stored cursor before they are emitted, so
        the receiver records none of them. Without a store, or when it fails (logged), every
        payload is emitted."""
        from airflow_mlflow_registry.webhooks.changes import RECORDED_KEY, recorded_by_webhook

        store = trigger_asset_state_store(self)
        if store is None or self._without_store:
            return payloads
        try:
            recorded = await store.aget(RECORDED_KEY)
            kept = [p for p in payloads if not recorded_by_webhook(recorded, p)]
            claimed = read
            for payload in kept:
                version = str(payload["version"])
                if payload["event"] == "new_version":
                    claimed = claimed.with_emitted(version)
                else:
                    claimed = dataclasses.replace(claimed, version=version, version_created=None)
            if kept:
                await store.aset(self.cursor_key, claimed.to_stored())
        except Exception as exc:
            self._log_store_failure("claim versions in", exc)
            return payloads
        if len(kept) < len(payloads):
            self.log.info(
                "Watching model %r: %d change(s) already recorded by the webhook receiver.",
                self.model_name,
                len(payloads) - len(kept),
            )
        return kept

    def _log_store_failure(self, action: str, exc: Exception) -> None:
        self.log.warning(
            "Watching model %r: could not %s the cursor in the asset state store (%s: %s); "
            "keeping it in memory.",
            self.model_name,
            action,
            type(exc).__name__,
            exc,
        )
