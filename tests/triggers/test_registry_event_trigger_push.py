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

"""The registry-event trigger with ``webhook=True`` beside the webhook receiver, sharing the
model asset's state store (Airflow 3.3): each path writes only its own key. No server: the
trigger's claim is called directly, with the in-memory stand-in of the state store."""

from __future__ import annotations

import asyncio

from airflow_mlflow_registry.registry_event_cursor import EventCursor
from airflow_mlflow_registry.triggers import MlflowRegistryEventTrigger
from airflow_mlflow_registry.webhooks.changes import RECORDED_KEY
from tests.support.trigger_runner import MemoryStateStore


def test_webhook_watch_drops_what_the_receiver_recorded_and_claims_the_rest() -> None:
    store = MemoryStateStore()
    trigger = MlflowRegistryEventTrigger(model_name="churn", mlflow_conn_id="watched", webhook=True)
    trigger.asset_state_store = store
    read_by_poll = EventCursor(server="mlflow:5000", version=5)
    store.values[trigger.cursor_key] = read_by_poll.to_stored()
    # While the poll ran, the receiver recorded version 7.
    store.values[RECORDED_KEY] = {"versions": ["7"], "aliases": {}}
    found = [{"event": "new_version", "version": str(v)} for v in (6, 7)]
    kept = asyncio.run(trigger._claim(read_by_poll, found))
    assert [p["version"] for p in kept] == ["6"]
    stored = EventCursor.from_stored(store.values[trigger.cursor_key])
    assert stored is not None and stored.was_emitted(6) and not stored.was_emitted(8)
    assert store.values[RECORDED_KEY] == {"versions": ["7"], "aliases": {}}  # not the watch's


def test_webhook_alias_watch_drops_a_move_the_receiver_recorded() -> None:
    store = MemoryStateStore()
    trigger = MlflowRegistryEventTrigger(
        model_name="churn", mlflow_conn_id="watched", alias="prod", webhook=True
    )
    trigger.asset_state_store = store
    read_by_poll = EventCursor(server="mlflow:5000", version="3")
    store.values[RECORDED_KEY] = {"versions": [], "aliases": {"prod": "4"}}
    moved = [{"event": "alias_moved", "version": "4", "alias": "prod"}]
    assert asyncio.run(trigger._claim(read_by_poll, moved)) == []
    moved_on = [{"event": "alias_moved", "version": "5", "alias": "prod"}]
    assert asyncio.run(trigger._claim(read_by_poll, moved_on)) == moved_on
    assert store.values[trigger.cursor_key]["version"] == "5"
