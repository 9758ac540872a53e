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

"""Promotion policies of ``ApproveModelVersionOperator``: how many distinct people must approve
a candidate before its alias moves, and whether the person who triggered the DAG run may be
one of them.

Airflow asks one person per task instance, so two approvals are two approval tasks of one DAG
run, chained (``approve_1 >> approve_2``), each with the same policy. Each task counts its own
answer and the approvals its upstream approval tasks recorded for the same candidate,
comparison and alias (their XCom records, signed by Airflow: an edited or forged record does
not count). The task that reaches ``required_approvals`` moves the alias; the ones before it
record their approval and move nothing.

.. seealso:: :doc:`/operators/approve_model_version` (section *Four eyes*)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlflow_registry.approval import APPROVED, ApprovalRecord, approval_key
from airflow_mlflow_registry.exceptions import ApprovalPolicyError
from airflow_mlflow_registry.utils.signing import SignatureCheck

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow_mlflow_registry.utils.signing import RecordSigner

#: XCom record field holding Airflow's signature of the task's decision.
SIGNATURE_FIELD = "approval_signature"


@dataclass(frozen=True)
class ApprovalPolicy:
    """Who must approve before an alias moves.

    :param required_approvals: distinct people who must approve (1 to 10).
    :param exclude_triggering_user: the person who triggered the DAG run may not approve it
        (a scheduled run has no such person).
    :raises ValueError: for a ``required_approvals`` outside 1 to 10, naming the parameter.
    """

    required_approvals: int = 1
    exclude_triggering_user: bool = False

    def __post_init__(self) -> None:
        if (
            isinstance(self.required_approvals, bool)
            or not isinstance(self.required_approvals, int)
            or not 1 <= self.required_approvals <= 10
        ):
            raise ValueError(
                "required_approvals must be a whole number from 1 to 10 (distinct people who "
                f"approve before the alias moves), got {self.required_approvals!r}."
            )

    def approvers(
        self,
        decision: ApprovalRecord,
        earlier: Sequence[tuple[str, ApprovalRecord]],
        triggering_user: str | None,
    ) -> list[str]:
        """The distinct people who approved the candidate of ``decision`` so far, ``decision``'s
        approver last; ``earlier`` are (task id, verified record) of upstream approval tasks.

        :raises ApprovalPolicyError: naming the rule, when ``decision``'s approver triggered the
            run (with ``exclude_triggering_user``) or already approved in an earlier task.
        """
        person = decision.decided_by
        if self.exclude_triggering_user and triggering_user and person == triggering_user:
            raise ApprovalPolicyError(
                f"Rule exclude_triggering_user refused the approval of model "
                f"{decision.model_name!r} version {decision.version}: {person} triggered this "
                "DAG run and may not approve it. Another person must approve (clear the task "
                "to ask again)."
            )
        same = [
            (task_id, record)
            for task_id, record in earlier
            if record.status == APPROVED
            and (record.version, record.previous_version, record.alias)
            == (decision.version, decision.previous_version, decision.alias)
        ]
        for task_id, record in same:
            if record.decided_by == person:
                raise ApprovalPolicyError(
                    f"Rule required_approvals={self.required_approvals} refused the approval of "
                    f"model {decision.model_name!r} version {decision.version}: {person} already "
                    f"approved it in task {task_id!r}, and each approval must come from a "
                    "different person. Another person must approve (clear the task to ask "
                    "again)."
                )
        people = list(dict.fromkeys(record.decided_by for _, record in same))
        return [*people, person]


def verified_upstream_approvals(
    records: Mapping[str, Any],
    *,
    dag_id: str,
    run_id: str,
    signer: RecordSigner,
) -> list[tuple[str, ApprovalRecord]]:
    """(task id, record) of the XCom records of upstream approval tasks (``records``: task id
    to its pushed record, or None) whose signature verifies for that task instance; others are
    left out (an edited record counts as no approval)."""
    verified = []
    for task_id, value in records.items():
        if not isinstance(value, dict) or SIGNATURE_FIELD not in value:
            continue
        try:
            record = ApprovalRecord(
                model_name=str(value["model_name"]),
                version=str(value["version"]),
                status=str(value["decision"]),
                decided_by=str(value["decided_by"] or ""),
                decided_at=str(value["decided_at"] or ""),
                comment=str(value["comment"] or ""),
                dag_run=f"{dag_id}/{run_id}",
                alias=str(value["alias"]),
                previous_version=None
                if value["previous_version"] is None
                else str(value["previous_version"]),
                key=approval_key(
                    signer,
                    str(value["model_name"]),
                    str(value["alias"]),
                    dag_id,
                    run_id,
                    task_id,
                    -1,
                ),
            )
        except (KeyError, TypeError):
            continue
        if record.check_signature(signer, value[SIGNATURE_FIELD]) is SignatureCheck.VALID:
            verified.append((task_id, record))
    return verified
