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

"""How a backfill settles a run that an overlapping backfill registered too, against a real
basic-auth `mlflow server`: only its own, higher version is deleted; without permission to
delete, the run is reported failed, naming both versions, and nothing else changes.

Two overlapping backfills cannot be made to collide on a chosen run from outside, so the two
versions are created by hand, with the run's backfill key, and the settling step
(``settle_overlapping_registrations``, what ``backfill_registrations`` runs after its creates)
is called with the row each backfill would hold. `tests/test_cli_concurrent_backfill.py` runs
the real overlap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pendulum
import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.backfill import (
    ALREADY_REGISTERED,
    FAILED,
    REGISTERED,
    BackfillRun,
    run_registration_key,
)
from airflow_mlflow_registry.hooks.backfill_settling import settle_overlapping_registrations
from airflow_mlflow_registry.hooks.registration import SOURCE_URI_TAG
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from tests.support.model_versions import seed_run, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


def two_keyed_versions(client: MlflowClient, prefix: str) -> tuple[str, str, str]:
    """A new model with versions 1 and 2 of one new run, both carrying the run's backfill key
    (what two overlapping backfills leave); (model, run id, source)."""
    model = unique(prefix)
    experiment_id = client.create_experiment(unique("training"))
    run_id = seed_run(client, experiment_id, pendulum.datetime(2026, 5, 1, tz="UTC"))
    client.create_registered_model(model)
    source = f"runs:/{run_id}/model"
    tags = {REGISTRATION_KEY_TAG: run_registration_key(model, run_id), SOURCE_URI_TAG: source}
    lower, higher = (
        client.create_model_version(model, source, run_id=run_id, tags=tags, await_creation_for=0)
        for _ in range(2)
    )
    assert (lower.version, higher.version) == ("1", "2")
    return model, run_id, source


def test_each_backfill_deletes_only_its_own_higher_duplicate_and_reports_a_failed_delete(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:

    for user in ("alice", "bob"):
        password = auth_mlflow_server.passwords[user]
        use_connection(f"settle_{user}", auth_mlflow_server.url, login=user, password=password)
    alice = MlflowRegistryHook(mlflow_conn_id="settle_alice")  # creates the model: MANAGE
    bob = MlflowRegistryHook(mlflow_conn_id="settle_bob")  # the server default: READ
    client: MlflowClient = alice.get_conn()
    model, run_id, _ = two_keyed_versions(client, "settle")

    def row(version: str) -> BackfillRun:
        return BackfillRun(run_id, None, "2026-05-01T00:00:00+00:00", REGISTERED, version)

    def versions() -> list[str]:
        return sorted(mv.version for mv in client.search_model_versions(f"name = '{model}'"))

    # The backfill holding the lower version keeps it and leaves the other's to its owner.
    assert settle_overlapping_registrations(alice._registry, model, [row("1")]) == [row("1")]
    assert versions() == ["1", "2"]

    # Without MANAGE, the delete is refused: the run is failed, naming both versions.
    (refused,) = settle_overlapping_registrations(bob._registry, model, [row("2")])
    assert (refused.outcome, refused.version) == (FAILED, "2")
    assert refused.error is not None
    assert refused.error.startswith("Version 2 duplicates version 1: ")
    assert "403" in refused.error or "permission" in refused.error.lower(), refused.error
    assert auth_mlflow_server.passwords["bob"] not in refused.error
    assert versions() == ["1", "2"]

    # With MANAGE, the higher version goes and the run is already registered as version 1.
    (settled,) = settle_overlapping_registrations(alice._registry, model, [row("2")])
    assert (settled.outcome, settled.version, settled.error) == (ALREADY_REGISTERED, "1", None)
    assert versions() == ["1"]


def test_a_row_whose_version_another_backfill_deleted_names_the_lowest_live_version(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    """A backfill that started later deleted this backfill's version 2 as a duplicate of
    version 1: the row names version 1 as already registered. When no version of the run with
    its key is left, the row is failed and says so."""
    use_connection("settle_plain", mlflow_server.url)
    hook = MlflowRegistryHook(mlflow_conn_id="settle_plain")
    client: MlflowClient = hook.get_conn()
    model, run_id, source = two_keyed_versions(client, "deleted")
    client.delete_model_version(model, "2")
    row = BackfillRun(run_id, None, "2026-05-01T00:00:00+00:00", REGISTERED, "2", source)

    (settled,) = settle_overlapping_registrations(hook._registry, model, [row])
    assert (settled.outcome, settled.version, settled.error) == (ALREADY_REGISTERED, "1", None)

    client.delete_model_version(model, "1")
    (gone,) = settle_overlapping_registrations(hook._registry, model, [row])
    assert (gone.outcome, gone.version) == (FAILED, "2")
    assert gone.error is not None
    assert gone.error.startswith("Version 2 was deleted while the backfill ran"), gone.error


@pytest.fixture(autouse=True)
def _no_stray_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials come from the connections only."""
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
