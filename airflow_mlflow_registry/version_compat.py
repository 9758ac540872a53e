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

"""Every Airflow name that moved between the supported minors (3.0 to 3.3), in one place.

The rest of the package imports these names from here, never from their Airflow module. Each
name is looked up where current Airflow keeps it (the task SDK, ``airflow.sdk``) and, when
that import fails, where older minors keep it: detection by feature, not by version number.

What moved (measured on released Airflow):

- ``BaseHook``: ``airflow.sdk`` from 3.1; ``airflow.hooks.base`` on 3.0.
- ``AirflowException``, ``AirflowNotFoundException``, ``AirflowSkipException``,
  ``AirflowSensorTimeout``: all in ``airflow.sdk.exceptions`` from 3.2; on 3.0 and 3.1 only
  ``airflow.exceptions`` has them all (3.1's SDK has a distinct ``AirflowNotFoundException``
  that connection look-ups do not raise), so the four come from one module together.
- ``conf``: ``airflow.sdk`` from 3.2; ``airflow.configuration`` on 3.0 and 3.1.
- ``mask_secret``: ``airflow.sdk.log`` from 3.1; ``airflow.sdk.execution_time.secrets_masker``
  on 3.0.
- ``CronDataIntervalTimetable``: ``airflow.sdk`` from 3.2; ``airflow.timetables.interval`` on
  3.0 and 3.1.
- ``BaseEventTrigger`` (triggers usable in ``AssetWatcher``): ``airflow.triggers.base`` in every
  minor from 3.0 to 3.3 (the task SDK has none); imported here so that a move is made once.
  What differs is behaviour: only 3.3 gives such a trigger an ``asset_state_store`` (state
  kept per watched asset in the metadata DB); :func:`trigger_asset_state_store` returns it, or
  None before 3.3.
- Recording an asset event from a server process (the webhook receiver in the api-server):
  ``AssetManager.register_asset_change(asset=<AssetModel>, extra=..., session=...)`` takes an
  ``AssetModel`` and a session in every minor from 3.0 to 3.3 (its other parameters differ);
  :func:`register_asset_event` calls it with those three only.
- The asset state store's table (``airflow.models.asset_state_store``, values stored as JSON
  text by ``airflow.state.metastore.MetastoreBackend``): 3.3 only;
  :func:`asset_state_entries` returns None before 3.3.
- ``ApprovalOperator`` (human-in-the-loop, ``airflow.providers.standard.operators.hitl``): from
  3.1, whose task SDK has ``airflow.sdk.execution_time.hitl``; 3.0 has no human-in-the-loop
  (the standard provider's module refuses to import there). On 3.0 the name is the task SDK's
  ``BaseOperator``, so that subclasses can still be defined, and :data:`HITL_MISSING` says
  why they cannot be used (None when they can). From 3.3 the task waits in the
  ``awaiting_input`` state, resumed by the api-server or the scheduler's timeout sweep; on 3.1
  and 3.2 it defers to a trigger, which needs a triggerer.
  The wait's bound is ``ApprovalOperator``'s ``response_timeout`` in newer standard providers
  and its ``execution_timeout`` in older ones (1.12, installed with Airflow 3.1);
  :data:`HITL_TIMEOUT_ARGUMENT` names the one this installation takes.
- Plugin ``external_views`` (a plugin page in the UI's menu, framed at ``/plugin/<route>``): from
  3.1; 3.0 ignores the attribute, so the alias timeline page
  (``airflow_mlflow_registry.plugins.alias_timeline``) is reached there at its URL only. The
  page's authorisation (``requires_access_asset`` of ``airflow.api_fastapi.core_api.security``)
  is one name in every minor from 3.0 to 3.3 (read from the sources, run on 3.3 only).

Importing this module imports Airflow, never mlflow.
"""

from __future__ import annotations

import contextlib
import inspect
import json
from typing import Any

# mypy checks against the newest Airflow, where the first branch of each pair is taken.
try:
    from airflow.sdk import BaseHook
except ImportError:  # Airflow 3.0
    from airflow.hooks.base import BaseHook  # type: ignore[attr-defined,no-redef]

try:
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
except ImportError:  # Airflow 3.0, 3.1
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

try:
    from airflow.sdk import conf
except ImportError:  # Airflow 3.0, 3.1
    from airflow.configuration import conf  # type: ignore[assignment]

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 3.0
    from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef]
        mask_secret,
    )

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0, 3.1
    from airflow.timetables.interval import (  # type: ignore[assignment]
        CronDataIntervalTimetable,
    )

from airflow.triggers.base import BaseEventTrigger

HITL_MISSING: str | None
HITL_TIMEOUT_ARGUMENT: str
try:
    import airflow.sdk.execution_time.hitl  # noqa: F401  (Airflow 3.1+)
    from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
except ImportError as exc:  # Airflow 3.0, or a standard provider without human-in-the-loop
    from airflow.sdk import BaseOperator as ApprovalOperator  # type: ignore[assignment]

    HITL_MISSING = (
        "human-in-the-loop operators (ApprovalOperator of apache-airflow-providers-standard, "
        f"Airflow 3.1 or later) are not available here: {exc}"
    )
    HITL_TIMEOUT_ARGUMENT = "response_timeout"
else:
    HITL_MISSING = None
    HITL_TIMEOUT_ARGUMENT = (
        "response_timeout"
        if "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
        else "execution_timeout"
    )


def trigger_asset_state_store(trigger: BaseEventTrigger) -> Any | None:
    """The asset state store the triggerer gave ``trigger`` (Airflow 3.3+: accessors over the
    assets that watch it), or None on older Airflow or outside a triggerer."""
    return getattr(trigger, "asset_state_store", None)


def register_asset_event(asset: Any, extra: dict[str, Any], session: Any) -> Any | None:
    """Record an asset event on ``asset`` (an ``AssetModel``) in ``session``'s transaction,
    queueing the DAG runs scheduled on it, as Airflow's own REST API does. Returns the
    ``AssetEvent``, or None when Airflow refuses (inactive asset). Server processes only."""
    from airflow.assets.manager import AssetManager

    return AssetManager.register_asset_change(asset=asset, extra=extra, session=session)


def asset_state_entries(session: Any, asset_id: int, key_prefix: str) -> dict[str, Any] | None:
    """The entries of asset ``asset_id``'s state store whose key starts with ``key_prefix``,
    decoded from JSON, read in ``session`` (Airflow 3.3+; None before 3.3). Server processes
    only; entries that are not JSON (a custom state backend's references) are left out."""
    try:
        from airflow.models.asset_state_store import AssetStateStoreModel
    except ImportError:  # Airflow 3.0 to 3.2
        return None
    from sqlalchemy import select

    rows = session.execute(
        select(AssetStateStoreModel.key, AssetStateStoreModel.value).where(
            AssetStateStoreModel.asset_id == asset_id,
            AssetStateStoreModel.key.startswith(key_prefix, autoescape=True),
        )
    )
    entries = {}
    for key, value in rows:
        with contextlib.suppress(ValueError):
            entries[key] = json.loads(value)
    return entries


def set_asset_state_entry(session: Any, asset_id: int, key: str, value: Any) -> None:
    """Write ``value`` (JSON-able) at ``key`` of asset ``asset_id``'s state store in
    ``session``, as the triggerer's writes are stored (Airflow 3.3+ only)."""
    from airflow._shared.state import AssetScope
    from airflow.state.metastore import MetastoreBackend

    MetastoreBackend().set(AssetScope(asset_id=asset_id), key, json.dumps(value), session=session)


__all__ = [
    "HITL_MISSING",
    "HITL_TIMEOUT_ARGUMENT",
    "AirflowException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "ApprovalOperator",
    "BaseEventTrigger",
    "BaseHook",
    "CronDataIntervalTimetable",
    "asset_state_entries",
    "conf",
    "mask_secret",
    "register_asset_event",
    "set_asset_state_entry",
    "trigger_asset_state_store",
]
