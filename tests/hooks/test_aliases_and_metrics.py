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

"""MlflowRegistryHook's alias, version-search and run-metric methods against a real server."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.exceptions import MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer


@pytest.fixture
def hook(default_registry: MlflowClient) -> MlflowRegistryHook:
    """A hook on ``mlflow_default``, the server ``default_registry`` arranges content on."""
    return MlflowRegistryHook()


def test_alias_lookup_returns_none_for_missing_alias_and_missing_model(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("alias")
    add_version(default_registry, model, aliases=["staging"])
    holder = hook.get_version_by_alias(model, "staging")
    assert holder is not None and holder.version == "1"
    assert hook.get_version_by_alias(model, "production") is None
    assert hook.get_version_by_alias(unique("no-such-model"), "staging") is None


def test_alias_of_a_missing_model_is_none_for_a_non_admin_on_a_basic_auth_server(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """MLflow's basic-auth server answers 403 (not 404) when a non-admin reads an alias of a
    model that does not exist, as the operator does before registering a new model."""
    server = auth_mlflow_server
    use_connection("alias_alice", server.url, **server.sign_in_as("alice"))
    alice = MlflowRegistryHook(mlflow_conn_id="alias_alice")
    model = unique("alias-auth")
    assert alice.get_version_by_alias(model, "staging") is None
    alice.get_conn().create_registered_model(model)
    assert alice.get_version_by_alias(model, "staging") is None


def test_set_alias_returns_previous_holder_and_moves_the_alias(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("move")
    add_version(default_registry, model)
    add_version(default_registry, model)
    assert hook.set_model_version_alias(model, "production", "1") is None
    assert hook.set_model_version_alias(model, "production", 2) == "1"
    assert default_registry.get_model_version_by_alias(model, "production").version == "2"


def test_set_alias_to_its_current_version_sends_only_the_lookup(
    fault_proxy: FaultProxy, use_connection: UseConnection, default_registry: MlflowClient
) -> None:
    model = unique("idem")
    add_version(default_registry, model, aliases=["production"])
    use_connection("mlflow_counted", fault_proxy.url)
    hook = MlflowRegistryHook(mlflow_conn_id="mlflow_counted")
    assert hook.set_model_version_alias(model, "production", "1") == "1"
    # The first look records where the alias was found (the ledger had nothing of it); after
    # that, a move to the current holder is one read.
    fault_proxy.reset_counts()
    assert hook.set_model_version_alias(model, "production", "1") == "1"
    assert [method for method, _ in fault_proxy.requests_seen] == ["GET"]


def test_alias_update_refused_with_bad_request_is_sent_once_more(
    fault_proxy: FaultProxy, use_connection: UseConnection, default_registry: MlflowClient
) -> None:
    """MLflow's SQL store answers BAD_REQUEST to the loser of two concurrent creates of one
    alias; the update is idempotent and sent once more. A second BAD_REQUEST is an error naming
    the model, alias and version."""
    model = unique("collide")
    add_version(default_registry, model)
    use_connection("mlflow_collide", fault_proxy.url)
    hook = MlflowRegistryHook(mlflow_conn_id="mlflow_collide")
    fault_proxy.add_fault("POST", "/registered-models/alias", "400_before_forward")
    assert hook.set_model_version_alias(model, "production", "1") is None
    assert fault_proxy.faults_injected == 1
    updates = [
        path
        for method, path in fault_proxy.requests_seen
        if method == "POST" and path.endswith("/registered-models/alias")
    ]
    assert len(updates) == 2, updates
    assert default_registry.get_model_version_by_alias(model, "production").version == "1"

    fault_proxy.add_fault("POST", "/registered-models/alias", "400_before_forward", times=2)
    with pytest.raises(
        MlflowRequestError, match=f"alias 'staging' of model '{model}' at version 1"
    ):
        hook.set_model_version_alias(model, "staging", "1")
    assert fault_proxy.faults_injected == 3


def test_search_model_versions_matches_tags_on_the_server_newest_first(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("search")
    add_version(default_registry, model, tags={"team": "a", "data.set": "v1"})
    add_version(default_registry, model, tags={"team": "b"})
    add_version(default_registry, model, tags={"team": "a", "data.set": "v1"})
    found = hook.search_model_versions(model, tags={"team": "a", "data.set": "v1"})
    assert [record["version"] for record in found] == ["3", "1"]
    assert [record["version"] for record in hook.search_model_versions(model)] == ["3", "2", "1"]


def test_tag_value_with_a_single_quote_is_rejected_not_silently_unmatched(
    hook: MlflowRegistryHook,
) -> None:
    with pytest.raises(ValueError, match="single quote"):
        hook.search_model_versions("m", tags={"owner": "o'brien"})


def test_find_ready_versions_applies_alias_tags_and_newer_than(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("match")
    add_version(default_registry, model, tags={"ok": "yes"}, aliases=["staging"])
    assert hook.find_ready_versions(model, alias="staging", newer_than_version=1) == []
    add_version(default_registry, model, tags={"ok": "no"})
    add_version(default_registry, model, tags={"ok": "yes"})
    found = hook.find_ready_versions(model, tags={"ok": "yes"}, newer_than_version="1")
    assert [version.version for version in found] == ["3"]
    assert hook.model_version_record(found[0])["status"] == "READY"
    default_registry.set_registered_model_alias(model, "staging", "2")
    moved = hook.find_ready_versions(model, alias="staging", newer_than_version=1)
    assert [version.version for version in moved] == ["2"]
    assert hook.model_version_record(moved[0])["aliases"] == ["staging"]
    assert hook.find_ready_versions(model, alias="staging", tags={"ok": "yes"}) == []
    assert hook.find_ready_versions(unique("missing"), tags={"ok": "yes"}) == []


def test_deprecated_finders_warn_naming_their_replacement_and_still_answer(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("deprecated")
    add_version(default_registry, model, tags={"ok": "yes"})
    with pytest.warns(DeprecationWarning, match="use search_model_versions"):
        assert [mv.version for mv in hook.find_model_versions(model, {"ok": "yes"})] == ["1"]
    with pytest.warns(DeprecationWarning, match="find_ready_versions"):
        record = hook.find_matching_version(model, tags={"ok": "yes"})
    assert record is not None and record["version"] == "1"


def test_source_run_metric_is_the_latest_value_or_none(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("metric")
    add_version(default_registry, model, {"accuracy": 0.5})
    version = default_registry.get_model_version(model, "1")
    default_registry.log_metric(version.run_id, "accuracy", 0.75, step=1)
    assert hook.source_run_metric(version, "accuracy") == 0.75
    assert hook.source_run_metric(version, "f1") is None
    runless = default_registry.create_model_version(model, "s3://bucket/no-run")
    assert hook.source_run_metric(runless, "accuracy") is None


def test_best_version_by_metric_respects_direction_and_skips_versions_without_it(
    hook: MlflowRegistryHook, default_registry: MlflowClient
) -> None:
    model = unique("best")
    for value in (0.2, 0.9, 0.5):
        add_version(default_registry, model, {"loss": value})
    add_version(default_registry, model, {"other": 1.0})
    versions = hook.find_ready_versions(model)
    best_max = hook.best_version_by_metric(versions, "loss", "max")
    best_min = hook.best_version_by_metric(versions, "loss", "min")
    assert best_max is not None and (best_max[0].version, best_max[1]) == ("2", 0.9)
    assert best_min is not None and (best_min[0].version, best_min[1]) == ("1", 0.2)
    assert hook.best_version_by_metric(versions, "absent", "max") is None
