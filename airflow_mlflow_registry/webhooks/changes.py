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

"""What a webhook delivery says, the asset event it becomes, and the de-duplication shared by
the webhook receiver and the registry-event trigger.

Two MLflow events become asset events, with the payload shape of
:class:`~airflow_mlflow_registry.triggers.MlflowRegistryEventTrigger`'s events:

- ``model_version.created`` -> ``event: "new_version"``;
- ``model_version_alias.created`` (an alias set or moved) -> ``event: "alias_moved"``.

Other events (tags, deleted aliases, new registered models, prompts) are acknowledged and
ignored.

One change is one asset event, whichever path sees it first:

- a change is identified by ``(event, version)`` for new versions and by ``(alias, version)``
  for alias moves; a new version is a duplicate when any recent event of the asset recorded
  that version, an alias move when the newest recorded move of that alias already points at
  that version (so a move away and back again is two changes), and any delivery whose id is
  already recorded is a duplicate (:func:`find_duplicate`);
- on Airflow 3.3+ the two paths share the model asset's state store, each writing only its
  own key: a watch (``webhook=True``) claims each change in its cursor before emitting it,
  and the receiver treats what a cursor marks emitted as a duplicate
  (:func:`emitted_by_watch`); the receiver lists what it recorded
  (:data:`RECORDED_KEY`, :func:`recorded_with`), and the watch drops those changes
  (:func:`recorded_by_webhook`). A single writer per key: no update of one path can erase the
  other's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.registry_event_cursor import EventCursor, cursor_key
from airflow_mlflow_registry.webhooks.signature import WebhookRejected

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

NEW_VERSION = "new_version"
ALIAS_MOVED = "alias_moved"
RECORDED_KEY = "mlflow_registry_webhook_recorded"
# Versions the receiver's record keeps per asset: far more than a poll interval's worth of changes.
RECORDED_MAX_VERSIONS = 500
# MLflow's ``entity.action`` names of the events that become asset events.
WEBHOOK_EVENTS = {
    "model_version.created": NEW_VERSION,
    "model_version_alias.created": ALIAS_MOVED,
}


@dataclass(frozen=True)
class RegistryChange:
    """One registry change a delivery announces: ``event`` is :data:`NEW_VERSION` or
    :data:`ALIAS_MOVED`; ``alias`` is set for alias moves only; ``workspace`` is the MLflow
    workspace the delivery names (None: it names none, as a server without workspaces)."""

    event: str
    model_name: str
    version: str
    alias: str | None = None
    workspace: str | None = None


def parse_delivery(body: bytes) -> RegistryChange | None:
    """The change a verified delivery body announces, or None for an event that makes no asset
    event.

    :raises WebhookRejected: 400 when the body is not MLflow's ``{entity, action, timestamp,
        data[, workspace]}`` JSON or ``data`` lacks the event's fields (``name``, ``version``,
        ``alias``).
    """
    try:
        message = json.loads(body)
    except ValueError:
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        raise WebhookRejected(400, "body is not an MLflow webhook payload (no 'data' object)")
    entity, action = message.get("entity"), message.get("action")
    if not isinstance(entity, str) or not isinstance(action, str):
        raise WebhookRejected(400, "payload has no 'entity' and 'action' strings")
    workspace = message.get("workspace")
    if not isinstance(workspace, (str, type(None))):
        raise WebhookRejected(400, "payload's 'workspace' is not a string")
    event = WEBHOOK_EVENTS.get(f"{entity}.{action}")
    if event is None:
        return None
    data = message["data"]
    fields = ("name", "version", "alias") if event == ALIAS_MOVED else ("name", "version")
    missing = [name for name in fields if not isinstance(data.get(name), (str, int))]
    if missing or not re.fullmatch(r"[0-9]{1,18}", str(data["version"])):
        raise WebhookRejected(
            400, f"{entity}.{action} payload lacks valid {', '.join(missing) or 'version'}"
        )
    return RegistryChange(
        event=event,
        model_name=str(data["name"]),
        version=str(data["version"]),
        alias=str(data["alias"]) if event == ALIAS_MOVED else None,
        workspace=workspace or None,
    )


def event_payload(
    change: RegistryChange,
    record: Mapping[str, Any],
    *,
    delivery_id: str,
    previous_version: str | None,
) -> dict[str, Any]:
    """The asset event's payload: the hook's version ``record`` plus ``event``, ``alias``,
    ``previous_version`` (alias moves) and ``delivery_id``, as the trigger's events carry."""
    payload = {**record, "event": change.event, "alias": change.alias}
    if change.event == ALIAS_MOVED:
        payload["previous_version"] = previous_version
    payload["delivery_id"] = delivery_id
    return payload


def find_duplicate(
    change: RegistryChange, delivery_id: str, recorded: Iterable[Mapping[str, Any]]
) -> str | None:
    """Why ``change`` (delivery ``delivery_id``) is already recorded among ``recorded`` (the
    payloads of the asset's recent events, newest first, from either path), or None."""
    alias_seen = False
    for payload in recorded:
        if payload.get("delivery_id") == delivery_id:
            return f"delivery {delivery_id} already recorded"
        if payload.get("event") != change.event:
            continue
        if change.event == NEW_VERSION and str(payload.get("version")) == change.version:
            return f"version {change.version} already recorded"
        if change.event == ALIAS_MOVED and payload.get("alias") == change.alias and not alias_seen:
            alias_seen = True  # only the newest move of this alias counts
            if str(payload.get("version")) == change.version:
                return f"alias {change.alias!r} already recorded at version {change.version}"
    return None


def previous_alias_version(alias: str, recorded: Iterable[Mapping[str, Any]]) -> str | None:
    """The version of the newest recorded move of ``alias`` among ``recorded`` (newest first)."""
    for payload in recorded:
        if payload.get("event") == ALIAS_MOVED and payload.get("alias") == alias:
            return str(payload.get("version"))
    return None


def emitted_by_watch(
    change: RegistryChange, conn_id: str, server: str, cursors: Mapping[str, Any]
) -> str | None:
    """Why ``change`` is already emitted (or claimed) by a polling watch on its asset, or None.

    ``cursors`` maps state-store keys (prefix
    :data:`~airflow_mlflow_registry.registry_event_cursor.CURSOR_KEY_PREFIX`) to their stored
    values; ``server`` is the connection's tracking host. New-version watches (an int
    watermark): :meth:`~airflow_mlflow_registry.registry_event_cursor.EventCursor.was_emitted`.
    The alias watch without tags of ``change.alias`` (key
    :func:`~airflow_mlflow_registry.registry_event_cursor.cursor_key` of the connection, model
    and alias): it stands at the change's version. Cursors of another server are ignored; the
    receiver never writes them (each watch is their only writer).
    """
    alias_key = None
    if change.alias is not None:
        alias_key = cursor_key(conn_id, change.model_name, change.alias, {})
    for key, value in cursors.items():
        cursor = EventCursor.from_stored(value)
        if cursor is None or cursor.server not in (None, server):
            continue
        if change.event == NEW_VERSION and isinstance(cursor.version, int):
            if cursor.was_emitted(change.version):
                return f"the polling watch already emitted version {change.version}"
        elif key == alias_key and cursor.version == change.version:
            return f"the polling watch already saw alias {change.alias!r} there"
    return None


def recorded_with(recorded: Any, change: RegistryChange) -> dict[str, Any]:
    """What the receiver has recorded (state-store key :data:`RECORDED_KEY` of the model's
    asset) after it recorded ``change``: ``{"versions": [...], "aliases": {alias: version}}``,
    the newest :data:`RECORDED_MAX_VERSIONS` versions."""
    current = recorded if isinstance(recorded, dict) else {}
    versions = [str(v) for v in current.get("versions", [])]
    aliases = dict(current.get("aliases") or {})
    if change.event == NEW_VERSION and change.version not in versions:
        versions.append(change.version)
    elif change.alias is not None:
        aliases[change.alias] = change.version
    return {"versions": versions[-RECORDED_MAX_VERSIONS:], "aliases": aliases}


def recorded_by_webhook(recorded: Any, payload: Mapping[str, Any]) -> bool:
    """True when a watch's event ``payload`` (``event``, ``version``, ``alias``) is a change the
    receiver already recorded according to ``recorded`` (the value at :data:`RECORDED_KEY`)."""
    if not isinstance(recorded, dict):
        return False
    version = str(payload.get("version"))
    if payload.get("event") == NEW_VERSION:
        return version in {str(v) for v in recorded.get("versions", [])}
    if payload.get("event") == ALIAS_MOVED:
        return (recorded.get("aliases") or {}).get(payload.get("alias")) == version
    return False
