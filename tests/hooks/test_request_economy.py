"""HTTP requests per registration, counted at a proxy in front of a real `mlflow server`."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.lineage import TaskInstanceLineage
from tests.support.bearer_proxy import BearerProxy

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer


def test_fresh_registration_needs_4_requests_and_a_rerun_2(
    mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    from mlflow import MlflowClient

    model = f"economy-{uuid.uuid4().hex[:8]}"
    with BearerProxy(mlflow_server.url) as proxy:
        use_connection("counted", proxy.url)
        hook = MlflowRegistryHook(mlflow_conn_id="counted")
        attempt_1 = TaskInstanceLineage(dag_id="d", task_id="t", run_id=model, try_number=1)
        attempt_2 = TaskInstanceLineage(dag_id="d", task_id="t", run_id=model, try_number=2)

        proxy.reset_counts()
        first = hook.register_model_version(
            model, "s3://bucket/m", aliases=["staging"], lineage=attempt_1
        )
        fresh = proxy.requests_seen
        proxy.reset_counts()
        again = hook.register_model_version(
            model, "s3://bucket/m", aliases=["staging"], lineage=attempt_2
        )
        rerun = proxy.requests_seen

        # Baseline: plain MlflowClient, lineage as a separate tag, then the alias.
        plain = MlflowClient(tracking_uri=proxy.url)
        proxy.reset_counts()
        version = plain.create_model_version(model, "s3://bucket/m", await_creation_for=0)
        plain.set_model_version_tag(model, version.version, "airflow.dag_id", "d")
        plain.set_registered_model_alias(model, "staging", version.version)
        baseline = proxy.requests_seen

    print(
        f"\nrequests per registration: fresh={len(fresh)} re-run={len(rerun)} "
        f"plain MlflowClient create+tag+alias={len(baseline)}"
    )
    assert (first["created"], again["created"]) == (True, False)
    assert again["version"] == first["version"]
    assert len(fresh) <= 4, fresh
    assert len(rerun) <= 2, rerun
    assert len(baseline) == 5, baseline  # what the README compares against
