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

"""``MlflowModelVersionTrigger``: wait in the triggerer until a model version matches."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.utils.request_errors import is_transient_error

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping


def describe_version_condition(
    model_name: str,
    alias: str | None,
    tags: Mapping[str, Any] | None,
    newer_than_version: str | int | None,
) -> str:
    """The condition of ``ModelVersionSensor`` in words, for logs and timeout messages."""
    parts = [f"a READY version of model {model_name!r}"]
    if alias:
        parts.append(f"that alias {alias!r} points at")
    if tags:
        parts.append(f"with tags {dict(tags)}")
    if newer_than_version not in (None, ""):
        parts.append(f"newer than version {newer_than_version}")
    return " ".join(parts)


class MlflowModelVersionTrigger(BaseTrigger):
    """Poll the registry every ``poke_interval`` seconds until a version matches
    (:meth:`MlflowRegistryHook.find_ready_versions`) or ``timeout`` seconds after
    ``started_at`` (epoch seconds; default: when polling starts) have passed.

    A transient failure (server unreachable, no answer in time, HTTP 408/429/5xx: see
    :func:`~airflow_mlflow_registry.exceptions.is_transient_error`) is logged and polled
    again until the timeout. Any other failure (401/403, a rejected request, a broken
    connection) ends the wait with an error event, unless ``silent_fail`` is set: then every
    failure is logged and polled again.

    The hook is built inside :meth:`run` from ``mlflow_conn_id``; its blocking calls, including
    the connection lookup, run in a worker thread so the triggerer's event loop never blocks.

    Yields one event: ``{"status": "success", "version": <record>}``,
    ``{"status": "timeout", "message": ...}`` or ``{"status": "error", "message": ...}``.
    """

    def __init__(
        self,
        *,
        model_name: str,
        mlflow_conn_id: str,
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        newer_than_version: str | int | None = None,
        poke_interval: float = 60.0,
        timeout: float = 7 * 24 * 3600.0,
        started_at: float | None = None,
        silent_fail: bool = False,
    ) -> None:
        super().__init__()
        self.model_name = model_name
        self.mlflow_conn_id = mlflow_conn_id
        self.alias = alias
        self.tags = dict(tags or {})
        self.newer_than_version = newer_than_version
        self.poke_interval = float(poke_interval)
        self.timeout = float(timeout)
        self.started_at = started_at
        self.silent_fail = silent_fail

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "model_name": self.model_name,
                "mlflow_conn_id": self.mlflow_conn_id,
                "alias": self.alias,
                "tags": self.tags,
                "newer_than_version": self.newer_than_version,
                "poke_interval": self.poke_interval,
                "timeout": self.timeout,
                "started_at": self.started_at,
                "silent_fail": self.silent_fail,
            },
        )

    def _matching_record(self, hook: MlflowRegistryHook) -> dict[str, Any] | None:
        """The record of the newest READY version meeting the condition, or None."""
        found = hook.find_ready_versions(
            self.model_name,
            alias=self.alias,
            tags=self.tags,
            newer_than_version=self.newer_than_version,
        )
        return hook.model_version_record(found[0]) if found else None

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        condition = describe_version_condition(
            self.model_name, self.alias, self.tags, self.newer_than_version
        )
        deadline = (self.started_at or time.time()) + self.timeout
        while True:
            try:
                record = await asyncio.to_thread(self._matching_record, hook)
            except Exception as exc:
                message = f"Waiting for {condition}: {exc}"
                if not (self.silent_fail or is_transient_error(exc)):
                    yield TriggerEvent({"status": "error", "message": message})
                    return
                reason = "silent_fail is set" if self.silent_fail else "a transient error"
                self.log.warning("%s (%s; checking again until the timeout).", message, reason)
                record = None
            if record is not None:
                yield TriggerEvent({"status": "success", "version": record})
                return
            remaining = deadline - time.time()
            if remaining <= 0:
                message = f"Timed out after {self.timeout:g} s waiting for {condition}."
                yield TriggerEvent({"status": "timeout", "message": message})
                return
            self.log.info("Waiting for %s; next check in %g s.", condition, self.poke_interval)
            await asyncio.sleep(min(self.poke_interval, remaining))
