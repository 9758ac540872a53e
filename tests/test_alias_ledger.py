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

"""The alias ledger's entries: signing, reading back, what a registry user's edits become."""

from __future__ import annotations

import json

import pytest

from airflow_mlflow_registry.alias_ledger import (
    LEDGER_TAG_PREFIX,
    MAX_WHY_CHARACTERS,
    AliasHistory,
    EntryStatus,
    MoveKind,
    new_entry,
    observation,
    read_entries,
)
from airflow_mlflow_registry.utils.signing import RecordSigner

SIGNER = RecordSigner("a" * 40)
OTHER = RecordSigner("b" * 40)


def tag_of(entry, signer=SIGNER):  # type: ignore[no-untyped-def]
    return {entry.tag_key: entry.tag_value(signer)}


def test_a_signed_entry_reads_back_verified_with_every_field() -> None:
    entry = new_entry("m", "champion", "1", "2", MoveKind.APPROVAL, {"approvers": "ann, bob"})
    (read,) = read_entries("m", tag_of(entry), SIGNER)
    assert read.status is EntryStatus.VERIFIED
    assert (read.alias, read.from_version, read.to_version, read.kind) == (
        "champion",
        "1",
        "2",
        "approval",
    )
    assert read.why == {"approvers": "ann, bob"}
    assert read.by.startswith("cli:")  # no task is running here
    assert read.at == entry.at and read.entry_id == entry.entry_id


@pytest.mark.parametrize(
    ("field", "forged"),
    [("to", "9"), ("from", "7"), ("by", "dag/run/task/try 1"), ("kind", "rollback"), ("at", 1)],
)
def test_a_changed_field_marks_the_entry_tampered(field: str, forged: object) -> None:
    entry = new_entry("m", "champion", "1", "2", MoveKind.SET_ALIAS)
    record = json.loads(entry.tag_value(SIGNER))
    record[field] = forged
    (read,) = read_entries("m", {entry.tag_key: json.dumps(record)}, SIGNER)
    assert read.status is EntryStatus.TAMPERED
    assert AliasHistory.of("m", "champion", [read]).last is None


def test_an_entry_copied_to_another_model_or_key_does_not_verify() -> None:
    entry = new_entry("m", "champion", "1", "2", MoveKind.SET_ALIAS)
    value = entry.tag_value(SIGNER)
    (other_model,) = read_entries("other", {entry.tag_key: value}, SIGNER)
    assert other_model.status is EntryStatus.TAMPERED
    (other_key,) = read_entries("m", {LEDGER_TAG_PREFIX + "9999999999999.deadbeef": value}, SIGNER)
    assert other_key.status is EntryStatus.TAMPERED


def test_unsigned_other_key_and_garbage_entries_are_not_trusted() -> None:
    unsigned = new_entry("m", "champion", None, "1", MoveKind.CLI)
    rotated = new_entry("m", "champion", "1", "2", MoveKind.CLI)
    tags = {
        **tag_of(unsigned, None),
        **tag_of(rotated, OTHER),
        LEDGER_TAG_PREFIX + "0000000000001.garbage": "not json",
        "team": "not a ledger tag",
    }
    entries = read_entries("m", tags, SIGNER)
    statuses = sorted(entry.status.value for entry in entries)
    assert statuses == ["other key", "tampered", "unsigned"]
    history = AliasHistory.of("m", "champion", entries)
    assert history.trusted == () and history.last is None
    assert len(history.untrusted()) == 2  # the garbage names no alias


def test_history_orders_by_time_and_lists_holders_without_repeats() -> None:
    first = new_entry("m", "champion", None, "1", MoveKind.REGISTER, at=1_000)
    second = new_entry("m", "champion", "1", "2", MoveKind.APPROVAL, at=2_000)
    seen = observation("m", "champion", second, "5", MoveKind.SEEN, second.at + 1)
    again = observation("m", "champion", seen, "5", MoveKind.OBSERVED, second.at + 2)
    staging = new_entry("m", "staging", None, "3", MoveKind.SET_ALIAS)
    tags = {**tag_of(seen), **tag_of(second), **tag_of(first), **tag_of(again), **tag_of(staging)}
    history = AliasHistory.of("m", "champion", read_entries("m", tags, SIGNER))
    assert [e.entry_id for e in history.entries][:3] == [
        first.entry_id,
        second.entry_id,
        seen.entry_id,
    ]
    assert history.holders() == ["1", "2", "5"]
    assert history.last is not None and history.last.to_version == "5"
    assert seen.by == "unknown" and seen.from_version == "2"


def test_every_observer_names_one_observation_alike() -> None:
    last = new_entry("m", "champion", "1", "2", MoveKind.SET_ALIAS)
    one = observation("m", "champion", last, "7", MoveKind.SEEN, 100)
    other = observation("m", "champion", last, "7", MoveKind.SEEN, 200)
    assert one.tag_key == other.tag_key
    assert observation("m", "champion", last, "8", MoveKind.SEEN, 100).tag_key != one.tag_key


def test_why_is_cut_to_fit_a_tag() -> None:
    entry = new_entry("m", "a", None, "1", MoveKind.SET_ALIAS, {"note": "x" * 10_000, "n": 3})
    assert sum(len(k) + len(v) for k, v in entry.why.items()) <= MAX_WHY_CHARACTERS + 10
    assert entry.why["n"] in ("", "3")
    (read,) = read_entries("m", tag_of(entry), SIGNER)
    assert read.status is EntryStatus.VERIFIED
