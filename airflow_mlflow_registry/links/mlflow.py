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

"""``MlflowModelVersionLink``: the "MLflow model version" button of a task instance."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey


class MlflowModelVersionLink(BaseOperatorLink):
    """Opens the MLflow UI page of the model version a task registered or promoted.

    Airflow 3 calls :meth:`get_link` in the worker when the task finishes, with the operator
    object that ran ``execute``, and stores the URL in XCom (key
    ``_link_MlflowModelVersionLink``), where the UI reads it. The URL is the
    ``model_version_url`` of the record the operator returned (its ``published_record``),
    taken from the operator rather than read back from XCom: that read would log an error for
    every failed or skipped task. No link when the task returned no record or the tracking
    store is not an http(s) server.
    """

    name = "MLflow model version"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        record = getattr(operator, "published_record", None)
        url = record.get("model_version_url") if isinstance(record, dict) else None
        return url or ""
