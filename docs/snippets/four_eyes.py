"""Code shown in the docs that no example DAG holds: two people approve before ``champion``
moves. A complete DAG of two chained approval gates with ``required_approvals=2``; built by
tests/docs/test_snippets.py, and the same chain runs end to end in the approval scenarios."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import ApproveModelVersionOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def four_eyes() -> None:
    # [START howto_operator_four_eyes]
    first, second = (
        ApproveModelVersionOperator(
            task_id=f"approve_{n}",
            model_name="churn",
            alias="champion",
            from_alias="challenger",
            required_approvals=2,
            exclude_triggering_user=True,
            assigned_users=[{"id": "alice", "name": "alice"}, {"id": "bob", "name": "bob"}],
        )
        for n in (1, 2)
    )
    first >> second
    # [END howto_operator_four_eyes]


four_eyes()
