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
