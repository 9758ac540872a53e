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


"""Rolling an alias back by its ledger, against a real server: to the previous holder, N
holders back or an explicit version, recorded as a rollback; refused, naming the rule, when the
target is deleted or not READY, the alias moved outside the provider, the history is not
trusted or the secret is missing; forged entries choose nothing."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry import alias_ledger
from airflow_mlflow_registry.alias_ledger import AliasHistory, EntryStatus, MoveKind, new_entry
from airflow_mlflow_registry.alias_rollback import recent_holders, rollback_alias
from airflow_mlflow_registry.exceptions import RollbackRefusedError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import read_alias_state
from airflow_mlflow_registry.utils.signing import RecordSigner
from tests.support.airflow_env import SIGNING_SECRET
from tests.support.ledger import forge_entry, promoted
from tests.support.model_versions import add_version, set_version_status, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.mlflow_server import MlflowServer

SIGNER = RecordSigner(SIGNING_SECRET)


# In the end-to-end tier (.ci/e2e-tests.sh): these server-bound tests would put the default
# suite over its 8-minute budget.
pytestmark = pytest.mark.e2e


@pytest.fixture
def hook(default_registry: MlflowClient) -> MlflowRegistryHook:
    return MlflowRegistryHook()


def champion(client: MlflowClient, model: str) -> str:
    return str(client.get_model_version_by_alias(model, "champion").version)


def refusal(hook: MlflowRegistryHook, model: str, **target: object) -> str:
    with pytest.raises(RollbackRefusedError) as refused:
        rollback_alias(hook.registry_calls, model, "champion", **target)  # type: ignore[arg-type]
    return str(refused.value)


# --------------------------------------------------------------------------------- success


def test_rollback_goes_to_the_previous_holder_and_is_recorded_as_a_rollback(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = promoted(default_registry, hook, 3)
    outcome = rollback_alias(hook.registry_calls, model, "champion", reason="check failed")
    assert champion(default_registry, model) == "2"
    assert (str(outcome.target.version), outcome.previous_version, outcome.steps) == ("2", "3", 1)
    last = read_alias_state(hook.registry_calls, model, "champion", SIGNER).history.entries[-1]
    assert last == outcome.entry
    assert (last.kind, last.from_version, last.to_version, last.status) == (
        "rollback",
        "3",
        "2",
        EntryStatus.VERIFIED,
    )
    assert last.why == {"reason": "check failed", "rolled_back_from": "3", "steps": "1"}
    assert last.by.startswith("cli:")


def test_steps_go_further_back_and_an_explicit_version_is_recorded_as_never_held(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = promoted(default_registry, hook, 3, extra=1)
    assert rollback_alias(hook.registry_calls, model, "champion", steps=2).steps == 2
    assert champion(default_registry, model) == "1"
    explicit = rollback_alias(hook.registry_calls, model, "champion", to_version="4")
    assert champion(default_registry, model) == "4"
    assert explicit.steps is None and explicit.entry.why["steps"] == "none"
    assert "shows" in refusal(hook, model, steps=9)  # not that many holders


def test_a_retry_of_the_same_task_instance_does_not_roll_back_twice(
    hook: MlflowRegistryHook, default_registry: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = promoted(default_registry, hook, 3)
    first_try = "dag/run/rollback/try 1"
    monkeypatch.setattr(alias_ledger, "current_actor", lambda: first_try)
    first = rollback_alias(hook.registry_calls, model, "champion", resume_by=first_try)
    assert first.entry.by == first_try and champion(default_registry, model) == "2"
    retry = rollback_alias(
        hook.registry_calls, model, "champion", resume_by="dag/run/rollback/try 2"
    )
    assert retry.entry == first.entry and champion(default_registry, model) == "2"
    entries = read_alias_state(hook.registry_calls, model, "champion", SIGNER).history.entries
    assert [e.kind for e in entries].count("rollback") == 1


# -------------------------------------------------------------------------------- refusals


def test_a_deleted_target_is_refused_and_the_alias_stays(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = promoted(default_registry, hook, 2)
    default_registry.delete_model_version(model, "1")
    message = refusal(hook, model)
    assert "rule: the target must exist" in message and "does not exist" in message
    assert champion(default_registry, model) == "2"


def test_a_failed_target_is_refused(
    hook: MlflowRegistryHook, default_registry: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = promoted(default_registry, hook, 2)
    set_version_status(mlflow_server.backend_store_uri, model, "1", "FAILED_REGISTRATION")
    message = refusal(hook, model)
    assert "rule: the target must be READY" in message and "FAILED_REGISTRATION" in message
    assert champion(default_registry, model) == "2"


def test_an_alias_moved_outside_is_refused_pointing_at_the_history_and_recorded_as_seen(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = promoted(default_registry, hook, 2, extra=1)
    default_registry.set_registered_model_alias(model, "champion", "3")  # a plain client
    message = refusal(hook, model)
    assert "the alias must be where the ledger's last trusted entry says" in message
    assert f"aliases history {model} champion" in message
    assert champion(default_registry, model) == "3"
    last = read_alias_state(hook.registry_calls, model, "champion", SIGNER).history.last
    assert last is not None and (last.kind, last.to_version) == ("seen", "3")


def test_no_trusted_history_is_refused(
    hook: MlflowRegistryHook, default_registry: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alias moved only by a plain client (no entry) or while no secret was set (unsigned
    entries): nothing trusted says where it was."""
    untracked = unique("untracked")
    add_version(default_registry, untracked, aliases=["champion"])
    add_version(default_registry, untracked, aliases=["champion"])
    with monkeypatch.context() as unset:
        unset.delenv("AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET")
        unsigned = promoted(default_registry, hook, 2)
    for model, untrusted in ((untracked, 0), (unsigned, 2)):
        message = refusal(hook, model)
        assert "rule: a rollback needs trusted history" in message
        assert f"({untrusted} that do not verify)" in message
        assert champion(default_registry, model) == "2"


def test_a_forged_entry_is_never_a_target(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    """A registry user writes an entry (with a copied signature) saying the alias held version
    3 last: rollback ignores it and goes back to the previous verified holder."""
    model = promoted(default_registry, hook, 2, extra=1)
    forge_entry(default_registry, model, "champion", "1", "3", at=time.time_ns() // 1_000_000)
    outcome = rollback_alias(hook.registry_calls, model, "champion")
    assert str(outcome.target.version) == "1" and champion(default_registry, model) == "1"


def test_without_the_signing_secret_rollback_is_refused_naming_the_variable(
    hook: MlflowRegistryHook, default_registry: MlflowClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = promoted(default_registry, hook, 2)
    monkeypatch.delenv("AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET")
    message = refusal(hook, model)
    assert "mlflow_registry_signing_secret" in message
    assert "AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET" in message
    assert SIGNING_SECRET not in message
    assert champion(default_registry, model) == "2"


def test_both_targets_at_once_are_a_usage_error(hook: MlflowRegistryHook) -> None:
    with pytest.raises(ValueError, match="not both"):
        rollback_alias(hook.registry_calls, "m", "champion", to_version="1", steps=1)


# ------------------------------------------------------------------------- recent holders


def test_recent_holders_are_the_last_distinct_verified_holders_newest_first() -> None:
    moves = [(None, "1"), ("1", "2"), ("2", "1"), ("1", "3"), ("3", "4")]
    entries = [
        replace(
            new_entry("m", "champion", a, b, MoveKind.SET_ALIAS, at=i),
            status=EntryStatus.VERIFIED,
        )
        for i, (a, b) in enumerate(moves)
    ]
    forged = replace(
        new_entry("m", "champion", "4", "9", MoveKind.SET_ALIAS, at=99),
        status=EntryStatus.TAMPERED,
    )
    history = AliasHistory.of("m", "champion", [*entries, forged])
    assert recent_holders(history, 3) == ["4", "3", "1"]
    assert recent_holders(history, 9) == ["4", "3", "1", "2"]
    assert recent_holders(history, 0) == []
