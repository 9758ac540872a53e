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

"""The improvement rule of a promotion: an alias moves to a candidate version only when the
candidate's source run has a strictly better value of a metric than the version the alias
points at now. Used by ``SetModelVersionAliasOperator`` (``require_improvement``) and
``ApproveModelVersionOperator`` (``guard_metric``: checked before a person is asked)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from airflow_mlflow_registry.utils.validation import is_templated
from airflow_mlflow_registry.version_compat import AirflowSkipException

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook


#: Which value of the metric wins: the highest or the lowest.
METRIC_DIRECTIONS = ("max", "min")


def check_metric_direction(direction: Any) -> Any:
    """``direction`` checked at DAG-parse time (a template passes through).

    :raises ValueError: when it is neither ``"max"`` nor ``"min"``.
    """
    if not is_templated(direction) and direction not in METRIC_DIRECTIONS:
        raise ValueError(f"metric_direction must be 'max' or 'min', got {direction!r}.")
    return direction


class TaskLog(Protocol):
    """The operator's ``log`` (task logs go there, not to module loggers)."""

    def info(self, event: Any, *args: Any, **kwargs: Any) -> Any: ...


def check_improvement(
    hook: MlflowRegistryHook,
    alias: str,
    candidate: ModelVersion,
    metric: str,
    direction: str,
    value: float,
    log: TaskLog,
) -> float | None:
    """Check that ``candidate`` (whose source run has ``metric`` = ``value``) beats the version
    ``alias`` points at (``direction`` ``"max"`` or ``"min"``: which value wins).

    A holder without the metric, no holder, or a holder that is the candidate itself does not
    block. The verdict, with both values, is logged to ``log``.

    :return: the holder's value of ``metric`` (``value`` when the holder is the candidate;
        None when there is no holder or it lacks the metric).
    :raises AirflowSkipException: when the candidate is not strictly better; the message
        states both versions and values.
    """
    model_name = candidate.name
    holder = hook.get_version_by_alias(model_name, alias)
    if holder is None or str(holder.version) == str(candidate.version):
        return value if holder is not None else None
    held = hook.source_run_metric(holder, metric)
    if held is None:
        log.info(
            "Version %s, which %r points at, has no metric %r: not blocking the move.",
            holder.version,
            alias,
            metric,
        )
        return None
    better = value > held if direction == "max" else value < held
    verdict = (
        f"candidate version {candidate.version} has {metric}={value}, current "
        f"{alias!r} version {holder.version} has {metric}={held} ({direction} wins)"
    )
    log.info("Improvement check for model %r: %s.", model_name, verdict)
    if not better:
        raise AirflowSkipException(f"Not moving {alias!r}: no improvement; {verdict}.")
    return held
