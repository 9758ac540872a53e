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

"""``ModelVersionSensor``: wait until a model version matches (alias moved, tagged version)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue

from airflow_mlflow_registry.exceptions import MlflowRegistryError
from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.triggers.model_version import (
    MlflowModelVersionTrigger,
    describe_version_condition,
)
from airflow_mlflow_registry.utils.request_errors import is_transient_error
from airflow_mlflow_registry.utils.search_filters import check_search_tags, check_version_number
from airflow_mlflow_registry.utils.validation import check_aliases, check_model_name, is_templated
from airflow_mlflow_registry.version_compat import AirflowSensorTimeout, conf

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context

# Task state store key of the deferrable wait's start (epoch seconds) and its round's first try.
STARTED_AT_STATE_KEY = "airflow_mlflow_registry.sensor_started_at"


class ModelVersionSensor(BaseSensorOperator):
    """Wait until a READY version of ``model_name`` matches:

    * ``alias`` points at it (and, with ``newer_than_version``, it is newer than that), or
    * it carries every tag in ``tags`` (the newest such version; also newer than
      ``newer_than_version`` when given).

    Both ``alias`` and ``tags`` together mean the version the alias points at must carry the
    tags. A model, alias or version that does not exist yet is waited for, not an error.

    Returns (and pushes to XCom) the matched version's record, the same dict as
    ``MlflowRegistryHook.get_model_version``.

    With ``deferrable=True`` the wait runs in the triggerer (:class:`MlflowModelVersionTrigger`)
    and holds no worker slot; ``poke_interval``, ``timeout`` and ``silent_fail`` apply there
    too. On timeout the task fails (``AirflowSensorTimeout``, or is skipped with
    ``soft_fail``) with a message stating the condition.

    Errors, in both modes: a transient one (server unreachable, no answer in time, HTTP
    408/429/5xx) is logged and the registry asked again at the next poke, until the timeout;
    any other (401/403, a rejected request, an invalid connection) fails the task at once,
    unless ``silent_fail`` is set (then it is logged and the wait goes on).

    In deferrable mode the timeout counts from the first try: a retry (after a failure, or a
    lost triggerer) waits only for what is left. The start is kept in the task state store
    (Airflow 3.3+; on older versions each try starts the count again); clearing the task
    starts a new count.

    :param model_name: registered model name. Templated.
    :param alias: alias to watch, e.g. ``"staging"``. Templated.
    :param tags: tags the version must carry (str to str). Templated.
    :param newer_than_version: only versions above this number match, e.g. the version in
        production. Templated.
    :param deferrable: wait in the triggerer (default ``[operators] default_deferrable``).
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    """

    template_fields: Sequence[str] = ("model_name", "alias", "tags", "newer_than_version")
    ui_color = "#d0e9f7"

    def __init__(
        self,
        *,
        model_name: str,
        alias: str | None = None,
        tags: Mapping[str, Any] | None = None,
        newer_than_version: str | int | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if alias is None and not tags:
            raise ValueError("Give alias, tags, or both: what should the version match?")
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        if alias is not None and not is_templated(alias):
            alias = check_aliases([alias], "alias")[0]
        self.alias = alias
        self.tags = check_search_tags(tags, "tags", at_parse=True)
        if newer_than_version is not None and not is_templated(newer_than_version):
            check_version_number(newer_than_version, "newer_than_version")
        self.newer_than_version = newer_than_version
        self.deferrable = deferrable
        self.mlflow_conn_id = mlflow_conn_id

    def _condition(self) -> str:
        return describe_version_condition(
            self.model_name, self.alias, self.tags, self.newer_than_version
        )

    def poke(self, context: Context) -> PokeReturnValue:
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        try:
            found = hook.find_ready_versions(
                self.model_name,
                alias=self.alias or None,
                tags=self.tags,
                newer_than_version=self.newer_than_version,
            )
            record = hook.model_version_record(found[0]) if found else None
        except MlflowRegistryError as exc:
            if not is_transient_error(exc):
                raise
            self.log.warning(
                "Waiting for %s: %s (a transient error; checking again until the timeout).",
                self._condition(),
                exc,
            )
            return PokeReturnValue(is_done=False)
        if record is None:
            self.log.info("Waiting for %s.", self._condition())
        else:
            self.log.info("Model %r version %s matches.", record["model_name"], record["version"])
        return PokeReturnValue(is_done=record is not None, xcom_value=record)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as timeout:
                raise AirflowSensorTimeout(f"Waiting for {self._condition()}: {timeout}") from None
        started_at = self._first_try_started_at(context)
        self.log.info(
            "Deferring: waiting for %s since %s, for at most %g s from then.",
            self._condition(),
            datetime.fromtimestamp(started_at, tz=timezone.utc).isoformat(),
            self.timeout,
        )
        self.defer(
            trigger=MlflowModelVersionTrigger(
                model_name=self.model_name,
                mlflow_conn_id=self.mlflow_conn_id,
                alias=self.alias or None,
                tags=self.tags,
                newer_than_version=self.newer_than_version,
                poke_interval=self.poke_interval,
                timeout=self.timeout,
                started_at=started_at,
                silent_fail=self.silent_fail,
            ),
            method_name="execute_complete",
        )

    def _first_try_started_at(self, context: Context) -> float:
        """Epoch seconds at which the first try of this round of tries started waiting.

        Kept in the task state store (Airflow 3.3+), which outlives retries, with the round's
        first try number: clearing the task raises ``max_tries`` and so starts a new round.
        Without a task state store (older Airflow), now.
        """
        now = time.time()
        store = context.get("task_state_store")
        if store is None:
            return now
        first_try = context["ti"].max_tries - (self.retries or 0) + 1
        saved = store.get(STARTED_AT_STATE_KEY)
        if isinstance(saved, dict) and saved.get("first_try") == first_try:
            return float(saved["started_at"])  # type: ignore[arg-type]
        store.set(STARTED_AT_STATE_KEY, {"first_try": first_try, "started_at": now})
        return now

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger: return the matched record, or fail with its message."""
        status = event.get("status")
        if status == "success":
            record = event["version"]
            self.log.info("Model %r version %s matches.", record["model_name"], record["version"])
            return record
        if status == "timeout":
            raise AirflowSensorTimeout(event["message"])
        raise MlflowRegistryError(event.get("message") or f"Unexpected trigger event {event!r}.")
