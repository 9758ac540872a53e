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

"""Promote ``iris-classifier`` from a staging MLflow to a production MLflow: copy the version
``champion`` points at in the registry of ``mlflow_default`` (files included) into the registry
of ``mlflow_production``, and point ``production`` at the copy there.

Each side runs as its own connection's user: the files are downloaded with
``mlflow_default``'s credentials and uploaded with ``mlflow_production``'s, never through
environment variables. The copy carries ``airflow.copied_from.*`` tags naming the source
(tracking URI, model, version, run). Retrying or clearing ``promote`` returns the copy made
before; once ``champion`` points elsewhere, a clear copies that version and supersedes the
earlier copy. Both connections must name MLflow tracking servers (``http(s)://``); define
``mlflow_production`` like ``mlflow_default`` (see the README's connection examples).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from airflow_mlflow_registry.operators import CopyModelVersionOperator

MODEL_NAME = "iris-classifier"


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["mlflow", "example"],
    doc_md=__doc__,
)
def promote_across_registries() -> None:
    # [START howto_operator_copy_model_version]
    CopyModelVersionOperator(
        task_id="promote",
        source_conn_id="mlflow_default",
        target_conn_id="mlflow_production",
        source_model_name=MODEL_NAME,
        source_alias="champion",
        target_aliases=["production"],
        tags={"promoted_by": "{{ dag.dag_id }}"},
    )
    # [END howto_operator_copy_model_version]


promote_across_registries()
