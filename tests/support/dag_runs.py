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

"""Run a DAG defined in a test for real, with ``dag.test()``, and read what its tasks pushed."""

from __future__ import annotations

import tempfile
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG


def write_dag_to_db(dag: DAG) -> None:
    """Serialize ``dag`` into the metadata DB as the dag-processor does (its assets become
    active)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    DagBundlesManager().sync_bundles_to_db()
    with tempfile.TemporaryDirectory() as empty_folder:
        bag = DagBag(dag_folder=empty_folder)
    bag.bag_dag(dag)
    _sync_bag_to_db(bag)


def run_dag(dag: DAG, **test_kwargs: Any) -> DagRun:
    """Write ``dag`` to the metadata DB (``dag.test()`` needs it serialized) and run it."""
    write_dag_to_db(dag)
    if not hasattr(dag, "test"):  # Airflow 3.0: only the scheduler-side DAG runs a test
        import pendulum
        from airflow.models.dag import DAG as SchedulerDAG

        # Its test() leaves the run without a logical date unless given one; 3.1+ use now.
        test_kwargs.setdefault("logical_date", pendulum.now("UTC"))
        return SchedulerDAG.from_sdk_dag(dag).test(**test_kwargs)
    return dag.test(**test_kwargs)


def _sync_bag_to_db(bag: Any) -> None:
    """Serialize the DAGs of ``bag`` into the metadata DB, wherever this Airflow keeps that."""
    try:
        from airflow.dag_processing.dagbag import sync_bag_to_db
    except ImportError:
        try:  # Airflow 3.1
            from airflow.models.dagbag import sync_bag_to_db  # type: ignore[no-redef]
        except ImportError:  # Airflow 3.0: a DagBag method
            for dag in bag.dags.values():
                # Set only when a DAG is parsed from a file; 3.0.0 fails to write it without.
                dag.relative_fileloc = dag.relative_fileloc or dag.fileloc
            bag.sync_to_db(bundle_name="dags-folder", bundle_version=None)
            return
    sync_bag_to_db(bag, bundle_name="dags-folder", bundle_version=None)


def task_states(dag_run: DagRun) -> dict[tuple[str, int], str]:
    """``(task_id, map_index)`` to the final state of each task instance of ``dag_run``."""
    return {(ti.task_id, ti.map_index): str(ti.state) for ti in dag_run.get_task_instances()}


def xcom_value(
    dag_run: DagRun, task_id: str, map_index: int = -1, key: str = "return_value"
) -> Any:
    """The deserialized XCom ``key`` pushed by one task instance of ``dag_run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(
                dag_id=dag_run.dag_id,
                run_id=dag_run.run_id,
                task_id=task_id,
                map_index=map_index,
                key=key,
            )
            .one_or_none()
        )
        if row is None:
            raise LookupError(f"no XCom {key!r} from {task_id}[{map_index}] in {dag_run.run_id}")
        return XComModel.deserialize_value(row)
