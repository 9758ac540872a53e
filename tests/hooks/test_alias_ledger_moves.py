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

"""Every alias move the hook makes lands in the model's ledger, against a real server: signed,
with who and why; moves made with a plain client are recorded as seen, once; forged entries
decide nothing."""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.alias_ledger import LEDGER_TAG_PREFIX, EntryStatus, MoveKind
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import MoveReason, observe_alias, read_alias_state
from airflow_mlflow_registry.utils.signing import RecordSigner
from tests.support.airflow_env import SIGNING_SECRET
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy

SIGNER = RecordSigner(SIGNING_SECRET)


@pytest.fixture
def hook(default_registry: MlflowClient) -> MlflowRegistryHook:
    return MlflowRegistryHook()


def history(hook: MlflowRegistryHook, model: str, alias: str):  # type: ignore[no-untyped-def]
    return read_alias_state(hook.registry_calls, model, alias, SIGNER)


def test_a_move_records_one_signed_entry_with_who_and_why(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("ledger")
    add_version(default_registry, model)
    add_version(default_registry, model)
    hook.set_model_version_alias(model, "champion", "1")
    reason = MoveReason(MoveKind.SET_ALIAS, {"metric": "auc", "metric_value": 0.91})
    assert hook.set_model_version_alias(model, "champion", "2", reason) == "1"
    hook.set_model_version_alias(model, "champion", "2")  # no move: no entry
    state = history(hook, model, "champion")
    assert state.holder == "2"
    assert [(e.from_version, e.to_version, e.status) for e in state.history.entries] == [
        (None, "1", EntryStatus.VERIFIED),
        ("1", "2", EntryStatus.VERIFIED),
    ]
    last = state.history.entries[-1]
    assert last.kind == "set_alias" and last.why == {"metric": "auc", "metric_value": "0.91"}
    assert last.by.startswith("cli:")
    raw = default_registry.get_registered_model(model).tags[last.tag_key]
    assert json.loads(raw)["sig"].startswith("v1:")


def test_a_plain_client_move_is_recorded_once_as_seen(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("seen")
    for _ in range(3):
        add_version(default_registry, model)
    hook.set_model_version_alias(model, "champion", "1")
    default_registry.set_registered_model_alias(model, "champion", "2")  # outside the provider
    first = observe_alias(hook.registry_calls, model, "champion", SIGNER)
    again = observe_alias(hook.registry_calls, model, "champion", SIGNER)
    hook.set_model_version_alias(model, "champion", "3")
    assert first is not None and again is not None
    assert (first.kind, first.by, first.from_version, first.to_version) == (
        "seen",
        "unknown",
        "1",
        "2",
    )
    assert again.entry_id == first.entry_id
    entries = history(hook, model, "champion").history.entries
    assert [(e.kind, e.from_version, e.to_version) for e in entries] == [
        ("set_alias", None, "1"),
        ("seen", "1", "2"),
        ("set_alias", "2", "3"),
    ]


def test_a_forged_entry_is_flagged_and_decides_nothing(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    """A registry user writes a ledger tag by hand (with the signature of a real entry copied
    over): it reads back tampered and the ledger's last trusted entry is unchanged."""
    model = unique("forged")
    add_version(default_registry, model)
    add_version(default_registry, model)
    hook.set_model_version_alias(model, "champion", "1")
    real = history(hook, model, "champion").history.entries[0]
    record = json.loads(default_registry.get_registered_model(model).tags[real.tag_key])
    forged = {**record, "to": "2", "from": "1", "at": record["at"] + 1, "by": "alice"}
    default_registry.set_registered_model_tag(
        model, LEDGER_TAG_PREFIX + f"{record['at'] + 1:013d}.forged00", json.dumps(forged)
    )
    state = history(hook, model, "champion")
    assert [e.status for e in state.history.entries] == [
        EntryStatus.VERIFIED,
        EntryStatus.TAMPERED,
    ]
    assert state.history.last is not None and state.history.last.to_version == "1"


def test_racing_moves_end_with_the_ledger_naming_the_holder(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    """Two threads move one alias at the same moment, 10 rounds: each move is recorded, and
    after each round the ledger's last trusted entry names the version the alias holds."""
    model = unique("race")
    for _ in range(2):
        add_version(default_registry, model)
    overlaps = 0
    for round_number in range(10):
        barrier = threading.Barrier(2)
        spans: list[tuple[float, float]] = []

        def move(
            version: str, barrier: threading.Barrier, spans: list[tuple[float, float]]
        ) -> None:
            barrier.wait()
            started = time.monotonic()
            MlflowRegistryHook().set_model_version_alias(model, "champion", version)
            spans.append((started, time.monotonic()))

        threads = [threading.Thread(target=move, args=(v, barrier, spans)) for v in ("1", "2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        (a_start, a_end), (b_start, b_end) = spans
        overlaps += a_start < b_end and b_start < a_end
        state = history(hook, model, "champion")
        assert state.history.last is not None, round_number
        assert state.history.last.to_version == state.holder, round_number
    assert overlaps == 10
    entries = history(hook, model, "champion").history.entries
    assert all(e.status is EntryStatus.VERIFIED for e in entries)


def test_without_a_signing_secret_entries_are_unsigned_and_nothing_is_trusted(
    hook: MlflowRegistryHook, default_registry: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET")
    model = unique("unsigned")
    add_version(default_registry, model)
    hook.set_model_version_alias(model, "champion", "1")
    (entry,) = history(hook, model, "champion").history.entries
    assert entry.status is EntryStatus.UNSIGNED
    assert history(hook, model, "champion").history.last is None


def test_an_observer_reading_between_a_move_and_its_entry_leaves_one_entry(
    hook: MlflowRegistryHook,
    default_registry: MlflowClient,
    fault_proxy: FaultProxy,
    use_connection: UseConnection,
) -> None:
    """The mover's reply to its alias update is held 8 s: the alias has moved, its entry is
    not written yet. An observer reads then, waits, still finds no entry and records the move
    as seen; the mover, once its entry is written, deletes that observation. The ledger holds
    the move once, with its author."""
    model = unique("between")
    add_version(default_registry, model)
    add_version(default_registry, model)
    hook.set_model_version_alias(model, "champion", "1")
    use_connection("mlflow_slow_mover", fault_proxy.url)
    mover = MlflowRegistryHook(mlflow_conn_id="mlflow_slow_mover")
    fault_proxy.add_fault("POST", "/registered-models/alias", "delay_reply", seconds=8)
    moving = threading.Thread(target=mover.set_model_version_alias, args=(model, "champion", "2"))
    moving.start()
    deadline = time.monotonic() + 10
    while default_registry.get_model_version_by_alias(model, "champion").version != "2":
        assert time.monotonic() < deadline, "the alias never moved"
        time.sleep(0.05)
    seen = observe_alias(hook.registry_calls, model, "champion", SIGNER)
    assert moving.is_alive()  # observed while the mover had not written its entry
    assert seen is not None and (seen.kind, seen.by) == ("seen", "unknown")
    moving.join()
    entries = history(hook, model, "champion").history.entries
    assert [(e.kind, e.from_version, e.to_version) for e in entries] == [
        ("set_alias", None, "1"),
        ("set_alias", "1", "2"),
    ]
    assert seen.tag_key not in default_registry.get_registered_model(model).tags
