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

"""The asset event of a verified delivery, recorded in the metadata DB in one transaction.

Every api-server replica records through the same transaction shape, so the metadata DB (not
a process's memory) decides what is a duplicate: the transaction first writes-locks the asset's
row (an update that changes nothing: a row lock on PostgreSQL and MySQL, the database write
lock on SQLite), then reads the asset's recent events, and records only a change none of them
holds (:func:`~airflow_mlflow_registry.webhooks.changes.find_duplicate`) and, on Airflow 3.3+,
no polling watch's cursor marks as emitted. Two replicas given the same delivery at once
therefore record it once; a poll's event committed before is seen.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.assets import tracking_host
from airflow_mlflow_registry.registry_event_cursor import CURSOR_KEY_PREFIX
from airflow_mlflow_registry.version_compat import (
    asset_state_entries,
    register_asset_event,
    set_asset_state_entry,
)
from airflow_mlflow_registry.webhooks.changes import (
    RECORDED_KEY,
    RegistryChange,
    emitted_by_watch,
    event_payload,
    find_duplicate,
    previous_alias_version,
    recorded_with,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

# Events of the asset read for de-duplication, newest first: far more than the changes one
# model sees between a delivery and the next poll.
RECENT_EVENTS = 200


def find_asset_id(session: Session, uri: str) -> int | None:
    """The id of the active asset with ``uri``, or None when no DAG declares it."""
    from airflow.models.asset import AssetModel
    from sqlalchemy import select

    return session.scalar(
        select(AssetModel.id).where(AssetModel.uri == uri, AssetModel.active.has()).limit(1)
    )


def recent_payloads(session: Session, asset_id: int) -> list[dict[str, Any]]:
    """The ``payload`` of the asset's newest :data:`RECENT_EVENTS` events (from the trigger or
    the receiver), newest first; events without one are skipped."""
    from airflow.models.asset import AssetEvent
    from sqlalchemy import select

    extras = session.scalars(
        select(AssetEvent.extra)
        .where(AssetEvent.asset_id == asset_id)
        .order_by(AssetEvent.id.desc())
        .limit(RECENT_EVENTS)
    )
    payloads = []
    for extra in extras:
        payload = extra.get("payload") if isinstance(extra, dict) else None
        if isinstance(payload, dict):
            payloads.append(payload)
    return payloads


def record_change(
    session: Session,
    conn_id: str,
    asset_id: int,
    change: RegistryChange,
    delivery_id: str,
    record: Mapping[str, Any],
) -> str | None:
    """Record ``change`` (its version's hook ``record``) as an asset event in ``session``'s
    transaction, the caller commits. Returns None when recorded, else why it is a duplicate.

    The event's ``extra`` is ``{"from_webhook": True, "payload": ...}`` (the trigger's events
    carry ``from_trigger``). On Airflow 3.3+, in the same transaction, a change a polling
    watch's cursor marks emitted is a duplicate, and the receiver's record in the asset's
    state store gains the change.
    """
    from airflow.models.asset import AssetModel
    from sqlalchemy import update

    session.execute(
        update(AssetModel)
        .where(AssetModel.id == asset_id)
        .values(updated_at=AssetModel.updated_at)
        .execution_options(synchronize_session=False)
    )
    recorded = recent_payloads(session, asset_id)
    duplicate = find_duplicate(change, delivery_id, recorded)
    if duplicate is not None:
        return duplicate
    state = asset_state_entries(session, asset_id, CURSOR_KEY_PREFIX) or {}
    server = tracking_host(record["tracking_uri"], record.get("workspace"))
    duplicate = emitted_by_watch(change, conn_id, server, state)
    if duplicate is not None:
        return duplicate
    previous = previous_alias_version(change.alias, recorded) if change.alias else None
    payload = event_payload(change, record, delivery_id=delivery_id, previous_version=previous)
    asset = session.get(AssetModel, asset_id)
    if register_asset_event(asset, {"from_webhook": True, "payload": payload}, session) is None:
        return "Airflow refused the asset event (asset inactive)"
    entries = asset_state_entries(session, asset_id, RECORDED_KEY)
    if entries is not None:  # Airflow 3.3+
        now_recorded = recorded_with(entries.get(RECORDED_KEY), change)
        set_asset_state_entry(session, asset_id, RECORDED_KEY, now_recorded)
    return None
