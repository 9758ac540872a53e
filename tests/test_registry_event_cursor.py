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

"""The stored cursor of registry-event watches: its format and the de-duplication rule the
polling trigger and a push receiver share."""

from __future__ import annotations

import json

import pytest

from airflow_mlflow_registry.registry_event_cursor import (
    CURSOR_KEY_PREFIX,
    EventCursor,
    Recheck,
    cursor_key,
)

pytestmark = pytest.mark.compat


def test_stored_form_round_trips_through_json() -> None:
    cursor = EventCursor(
        server="127.0.0.1:5000",
        version=12,
        version_created=1_700_000_000_123,
        recheck={9: Recheck(1_700_000_000.5, "pending"), 11: Recheck(1_700_000_001.0, "untagged")},
        emitted=(15, 14),
    )
    stored = json.loads(json.dumps(cursor.to_stored()))
    assert stored == {
        "format": 2,
        "server": "127.0.0.1:5000",
        "version": 12,
        "version_created": 1_700_000_000_123,
        "recheck": {
            "9": {"since": 1_700_000_000.5, "reason": "pending"},
            "11": {"since": 1_700_000_001.0, "reason": "untagged"},
        },
        "emitted": [14, 15],
    }
    assert EventCursor.from_stored(stored) == EventCursor(
        server="127.0.0.1:5000",
        version=12,
        version_created=1_700_000_000_123,
        recheck=cursor.recheck,
        emitted=(14, 15),
    )


def test_a_format_1_cursor_keeps_its_version_without_identity() -> None:
    assert EventCursor.from_stored({"version": 7}) == EventCursor(server=None, version=7)
    assert EventCursor.from_stored("7") is None
    assert EventCursor.from_stored({}) is None


def test_was_emitted_below_and_above_the_watermark() -> None:
    cursor = EventCursor(
        server="s", version=10, recheck={8: Recheck(0.0, "pending")}, emitted=(12,)
    )
    assert [n for n in range(1, 15) if cursor.was_emitted(n)] == [1, 2, 3, 4, 5, 6, 7, 9, 10, 12]
    after = cursor.with_emitted(8).with_emitted("13")
    assert after.recheck == {}
    assert after.emitted == (12, 13)
    assert [n for n in range(1, 15) if after.was_emitted(n)] == [*range(1, 11), 12, 13]
    assert not after.was_emitted(11)
    assert not after.was_emitted(14)


def test_merge_keeps_what_another_writer_recorded() -> None:
    ours = EventCursor(
        server="s", version=10, recheck={8: Recheck(0.0, "pending"), 9: Recheck(0.0, "untagged")}
    )
    theirs = ours.with_emitted(9).with_emitted(11)
    merged = ours.merged_with(theirs)
    assert merged.recheck == {8: Recheck(0.0, "pending")}
    assert merged.emitted == (11,)
    # A cursor written for another server is not merged.
    assert ours.merged_with(EventCursor(server="other", version=10, emitted=(11,))) == ours


def test_key_names_the_watch_not_its_options() -> None:
    key = cursor_key("conn", "churn", None, {"b": "2", "a": "1"})
    assert key.startswith(f"{CURSOR_KEY_PREFIX}:")
    assert key == cursor_key("conn", "churn", None, {"a": "1", "b": "2"})
    assert key != cursor_key("conn", "churn", "production", {"a": "1", "b": "2"})
    assert key != cursor_key("other", "churn", None, {"a": "1", "b": "2"})
