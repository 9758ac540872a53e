"""A person's decision on promoting a model version, recorded on that version as tags.

``ApproveModelVersionOperator`` writes these tags when it asks (status ``pending``) and again
when the reviewer answers (or the wait expires), so the MLflow UI shows who approved what, and
when:

=====================================  ======================================================
``airflow.approval.status``            ``pending``, ``approved``, ``rejected`` or ``expired``
``airflow.approval.approved_by``       the reviewer who answered, whatever the answer (empty
                                       while pending and when the wait expired)
``airflow.approval.decided_at``        when, ISO-8601 in UTC (empty while pending)
``airflow.approval.comment``           the reviewer's comment (may be empty)
``airflow.approval.dag_run``           ``<dag_id>/<run_id>`` of the Airflow run that asked
``airflow.approval.alias``             the alias the approval was for (``champion``)
``airflow.approval.previous_version``  the version the alias pointed at when the reviewer was
                                       asked (empty for a first promotion)
``airflow.approval.key``               the task instance's approval key (below); written last
=====================================  ======================================================

The approval key is a digest of (model, alias, DAG, run, task, map index): the same on every
try of one task instance. A later try (retry, clear) of that task instance that finds its key
on the candidate version with status ``approved`` or ``rejected`` takes that decision
instead of asking again. Another candidate version does not carry the key, so its reviewer
is asked. An ``expired`` wait is not a decision: a later try asks again.

Airflow keeps one review request per task instance: a retried or cleared task instance shows
the reviewer the page of its first request (Airflow 3.3 does not replace it). So a later try
asks again only about the same comparison (the same candidate, and the alias still at the
same version); the versions carrying its key say what the first request showed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

APPROVAL_TAG_PREFIX = "airflow.approval."
STATUS_TAG = APPROVAL_TAG_PREFIX + "status"
APPROVED_BY_TAG = APPROVAL_TAG_PREFIX + "approved_by"
DECIDED_AT_TAG = APPROVAL_TAG_PREFIX + "decided_at"
COMMENT_TAG = APPROVAL_TAG_PREFIX + "comment"
DAG_RUN_TAG = APPROVAL_TAG_PREFIX + "dag_run"
ALIAS_TAG = APPROVAL_TAG_PREFIX + "alias"
PREVIOUS_VERSION_TAG = APPROVAL_TAG_PREFIX + "previous_version"
KEY_TAG = APPROVAL_TAG_PREFIX + "key"

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
#: Statuses a later try of the same task instance takes instead of asking again.
FINAL_STATUSES = (APPROVED, REJECTED)


def approval_key(
    model_name: str, alias: str, dag_id: str, run_id: str, task_id: str, map_index: int
) -> str:
    """A hex digest naming (model, alias, DAG, run, task, map index): the same on every try of
    one task instance (a digest, because MLflow search filters cannot escape quotes)."""
    identity = "\x1f".join([model_name, alias, dag_id, run_id, task_id, str(map_index)])
    return hashlib.sha256(identity.encode()).hexdigest()


@dataclass(frozen=True)
class ApprovalDecision:
    """One answer to a review request, as recorded on the candidate version."""

    status: str
    decided_by: str
    decided_at: str
    comment: str
    dag_run: str
    alias: str
    previous_version: str | None
    key: str

    @property
    def approved(self) -> bool:
        """True when the alias is to move."""
        return self.status == APPROVED

    def as_tags(self) -> dict[str, str]:
        """The ``airflow.approval.*`` tags, the key last: a version carries this task
        instance's key only once every other tag of its decision is written."""
        return {
            STATUS_TAG: self.status,
            APPROVED_BY_TAG: self.decided_by,
            DECIDED_AT_TAG: self.decided_at,
            COMMENT_TAG: self.comment,
            DAG_RUN_TAG: self.dag_run,
            ALIAS_TAG: self.alias,
            PREVIOUS_VERSION_TAG: self.previous_version or "",
            KEY_TAG: self.key,
        }

    @classmethod
    def recorded(cls, tags: Mapping[str, str], key: str) -> ApprovalDecision | None:
        """The final decision (``approved`` or ``rejected``) recorded in ``tags`` under
        ``key``, or None when there is none (another key, no decision, or ``expired``)."""
        if tags.get(KEY_TAG) != key or tags.get(STATUS_TAG) not in FINAL_STATUSES:
            return None
        return cls(
            status=tags[STATUS_TAG],
            decided_by=tags.get(APPROVED_BY_TAG, ""),
            decided_at=tags.get(DECIDED_AT_TAG, ""),
            comment=tags.get(COMMENT_TAG, ""),
            dag_run=tags.get(DAG_RUN_TAG, ""),
            alias=tags.get(ALIAS_TAG, ""),
            previous_version=tags.get(PREVIOUS_VERSION_TAG) or None,
            key=key,
        )
