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
import hashlib
import json
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import TriggerEvent

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.search_filters import check_search_tags
from airflow_mlflow_registry.version_compat import BaseEventTrigger, trigger_asset_state_store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

# After yielding an event the trigger waits this long before it moves its stored cursor past
# it: the triggerer hands events to its supervisor once a second, which stores them in its next
# one-second loop. A triggerer stopped inside the margin emits the event again after a restart
# (one extra run) rather than never.
CURSOR_COMMIT_DELAY_SECONDS = 3.0
CURSOR_KEY_PREFIX = "mlflow_registry_event_cursor"


class MlflowRegistryEventTrigger(BaseEventTrigger):
    """Watch one registered model and emit an event for each change past a cursor.

    Modes:

    - without ``alias``: each new version (number above the cursor) that is READY and carries
      every tag in ``tags``. The cursor is the highest version number handled; a version still
      PENDING_REGISTRATION holds the cursor until it settles, a FAILED_REGISTRATION one is
      passed over without an event.
    - with ``alias``: each time the alias points at another version than at the last poll (a
      move, a rollback); with ``tags``, only when that version carries them. A move and a move
      back between two polls are not seen (polling sees states, not moves); a removed alias
      emits nothing.

    Each poll is one request (a filtered, ordered search bounded to one version, or one alias
    look-up), and each poll emits at most one event: Airflow gives a DAG run all events queued
    since its last run, so pacing events by ``poll_interval`` gives one run per change as long
    as the scheduler creates runs faster than that.

    The first poll without a stored cursor emits nothing and starts the cursor at the newest
    version (or the alias's current version), unless ``start_after_version`` is given: then
    versions above it are emitted (``0``: every version). On Airflow 3.3+ the cursor is kept
    in the asset state store of the watching asset (key ``mlflow_registry_event_cursor:<id>``),
    so a triggerer restart continues where it stopped. Before 3.3 it lives in the trigger
    only: after a restart the trigger starts again as on its first poll.

    Errors (server unreachable, 401/403, a rejected filter) are logged and polled again: a
    watcher has no task to fail.

    Event payload: the hook's version record (``model_name``, ``version``, ``model_uri``,
    ``source``, ``run_id``, ``status``, ``aliases``, ``tags``, ``lineage``, ``tracking_uri``,
    ``registered_at``, ``model_version_url``, ...) plus ``event`` (``"new_version"`` or
    ``"alias_moved"``), ``alias`` and ``previous_version`` (alias mode). Airflow records it as
    the asset event's ``extra["payload"]``.
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
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, got {poll_interval!r}.")
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.alias = alias
        self.tags = dict(check_search_tags(tags, "tags"))
        self.poll_interval = float(poll_interval)
        self.start_after_version = start_after_version

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
            },
        )

    @property
    def cursor_key(self) -> str:
        """The state-store key of this watch: the same for the same connection, model, alias
        and tags (changing only ``poll_interval`` keeps the cursor)."""
        identity = json.dumps(
            [self.mlflow_conn_id, self.model_name, self.alias, sorted(self.tags.items())]
        )
        return f"{CURSOR_KEY_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        cursor = await self._load_cursor()
        while True:
            payload: dict[str, Any] | None
            new_cursor: dict[str, Any] | None
            try:
                payload, new_cursor = await asyncio.to_thread(self._poll, hook, cursor)
            except Exception as exc:
                self.log.warning(
                    "Watching model %r: %s; polling again in %g s.",
                    self.model_name,
                    hook.redact_secrets(str(exc)),
                    self.poll_interval,
                )
                payload, new_cursor = None, cursor
            waited = 0.0
            if payload is not None:
                yield TriggerEvent(payload)
                waited = min(CURSOR_COMMIT_DELAY_SECONDS, self.poll_interval)
                await asyncio.sleep(waited)
            if new_cursor is not None and new_cursor != cursor:
                cursor = new_cursor
                await self._store_cursor(new_cursor)
            await asyncio.sleep(self.poll_interval - waited)

    def _poll(
        self, hook: MlflowRegistryHook, cursor: dict[str, Any] | None
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """One request: the event to emit (or None) and the cursor after it."""
        if self.alias is not None:
            return self._poll_alias(hook, cursor)
        if cursor is None:
            if self.start_after_version is not None:
                return None, {"version": int(self.start_after_version)}
            newest = hook.find_versions_after(self.model_name, 0, newest_first=True)
            return None, {"version": int(newest[0].version) if newest else 0}
        after = int(cursor["version"])
        found = hook.find_versions_after(self.model_name, after, tags=self.tags, limit=1)
        if not found:
            return None, cursor
        version = found[0]
        if version.status == "PENDING_REGISTRATION":
            self.log.info(
                "Model %r version %s is still pending; waiting.", self.model_name, version.version
            )
            return None, cursor
        next_cursor = {"version": int(version.version)}
        if version.status != "READY":
            self.log.warning(
                "Model %r version %s is %s; no event.",
                self.model_name,
                version.version,
                version.status,
            )
            return None, next_cursor
        payload = {**hook.model_version_record(version), "event": "new_version", "alias": None}
        return payload, next_cursor

    def _poll_alias(
        self, hook: MlflowRegistryHook, cursor: dict[str, Any] | None
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        assert self.alias is not None
        holder = hook.get_version_by_alias(self.model_name, self.alias)
        current = None if holder is None else str(holder.version)
        if cursor is None:
            if self.start_after_version is None or holder is None:
                return None, {"version": current}
            cursor = {"version": str(self.start_after_version)}
        if holder is None or current == cursor["version"]:
            return None, {"version": current}
        if holder.status != "READY" or not self.tags.items() <= dict(holder.tags or {}).items():
            return None, {"version": current}
        payload = {
            **hook.model_version_record(holder),
            "event": "alias_moved",
            "alias": self.alias,
            "previous_version": cursor["version"],
        }
        return payload, {"version": current}

    async def _load_cursor(self) -> dict[str, Any] | None:
        store = trigger_asset_state_store(self)
        if store is None:
            return None
        try:
            value = await store.aget(self.cursor_key)
        except ValueError as exc:  # watched by several assets: no single store to use
            self.log.warning("No asset state store for the cursor (%s); keeping it in memory.", exc)
            return None
        return value if isinstance(value, dict) else None

    async def _store_cursor(self, cursor: dict[str, Any]) -> None:
        store = trigger_asset_state_store(self)
        if store is None:
            return
        try:
            await store.aset(self.cursor_key, cursor)
        except ValueError as exc:
            self.log.warning("No asset state store for the cursor (%s); keeping it in memory.", exc)
