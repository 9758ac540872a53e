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

"""A person's review of moving an alias to a candidate version, recorded on that version as
signed tags.

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
``airflow.approval.signature``         Airflow's signature of all of the above, bound to the
                                       model, the version and the key
``airflow.approval.key``               the task instance's approval key (below); written last
=====================================  ======================================================

The tags are an audit copy signed with the secret of :mod:`.utils.signing`, which registry
users cannot read. The key is a keyed digest of (model, alias, DAG, run, task, map index): the
same on every try of one task instance, unpredictable without the secret. A record is taken
only when its signature verifies for this model, version and key; any other record carrying
the key was changed or forged, and is ignored and logged as tampered.

.. seealso:: :doc:`/operators/approve_model_version`
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import MlflowRegistryError, TamperedRecordError
from airflow_mlflow_registry.utils.signing import SignatureCheck

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from airflow_mlflow_registry.utils.signing import RecordSigner

APPROVAL_TAG_PREFIX = "airflow.approval."
STATUS_TAG = APPROVAL_TAG_PREFIX + "status"
APPROVED_BY_TAG = APPROVAL_TAG_PREFIX + "approved_by"
DECIDED_AT_TAG = APPROVAL_TAG_PREFIX + "decided_at"
COMMENT_TAG = APPROVAL_TAG_PREFIX + "comment"
DAG_RUN_TAG = APPROVAL_TAG_PREFIX + "dag_run"
ALIAS_TAG = APPROVAL_TAG_PREFIX + "alias"
PREVIOUS_VERSION_TAG = APPROVAL_TAG_PREFIX + "previous_version"
SIGNATURE_TAG = APPROVAL_TAG_PREFIX + "signature"
KEY_TAG = APPROVAL_TAG_PREFIX + "key"

#: XCom key of the review request a task pushes before it waits and reads when it resumes.
REQUEST_XCOM_KEY = "approval_request"

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
EXPIRED = "expired"
#: Statuses a later try of the same task instance takes instead of asking again.
FINAL_STATUSES = (APPROVED, REJECTED)

log = logging.getLogger(__name__)


def approval_key(
    signer: RecordSigner,
    model_name: str,
    alias: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
) -> str:
    """The approval key of one task instance: a keyed hex digest of (model, alias, DAG, run,
    task, map index), the same on every try (hex, because MLflow search filters cannot escape
    quotes)."""
    return signer.digest(model_name, alias, dag_id, run_id, task_id, str(map_index))


@dataclass(frozen=True)
class ApprovalRecord:
    """One review request (``pending``) or its outcome, about one candidate version."""

    model_name: str
    version: str
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

    @property
    def final(self) -> bool:
        """True for a person's answer (``approved`` or ``rejected``)."""
        return self.status in FINAL_STATUSES

    def signature(self, signer: RecordSigner) -> str:
        """Airflow's signature of this record."""
        return signer.sign(asdict(self))

    def check_signature(self, signer: RecordSigner, signature: str | None) -> SignatureCheck:
        """Whether ``signature`` is Airflow's signature of this record."""
        return signer.check(asdict(self), signature)

    def as_tags(self, signer: RecordSigner) -> dict[str, str]:
        """The ``airflow.approval.*`` tags with the signature, the key last: a version carries
        this task instance's key only once every other tag of its record is written."""
        return {
            STATUS_TAG: self.status,
            APPROVED_BY_TAG: self.decided_by,
            DECIDED_AT_TAG: self.decided_at,
            COMMENT_TAG: self.comment,
            DAG_RUN_TAG: self.dag_run,
            ALIAS_TAG: self.alias,
            PREVIOUS_VERSION_TAG: self.previous_version or "",
            SIGNATURE_TAG: self.signature(signer),
            KEY_TAG: self.key,
        }

    @classmethod
    def from_tags(
        cls,
        model_name: str,
        version: str | int,
        tags: Mapping[str, str],
        key: str,
        signer: RecordSigner,
    ) -> ApprovalRecord | None:
        """The record of task instance ``key`` in ``tags`` of ``model_name``/``version``, or
        None when there is none or its signature does not verify (logged as tampered: a
        record Airflow did not write is never taken)."""
        if tags.get(KEY_TAG) != key:
            return None
        record = cls(
            model_name=model_name,
            version=str(version),
            status=tags.get(STATUS_TAG, ""),
            decided_by=tags.get(APPROVED_BY_TAG, ""),
            decided_at=tags.get(DECIDED_AT_TAG, ""),
            comment=tags.get(COMMENT_TAG, ""),
            dag_run=tags.get(DAG_RUN_TAG, ""),
            alias=tags.get(ALIAS_TAG, ""),
            previous_version=tags.get(PREVIOUS_VERSION_TAG) or None,
            key=key,
        )
        check = record.check_signature(signer, tags.get(SIGNATURE_TAG))
        if check is SignatureCheck.VALID:
            return record
        log.warning(
            "Ignoring the approval tags on model %r version %s: their signature is %s (%s). "
            "They were not written by this Airflow as they stand (changed or forged by a "
            "registry user, or signed with a secret this Airflow no longer holds); a person "
            "is asked instead.",
            model_name,
            version,
            check.value,
            "tampered" if check is SignatureCheck.INVALID else "unverifiable",
        )
        return None


def task_approval_key(signer: RecordSigner, model_name: str, alias: str, ti: Any) -> str:
    """:func:`approval_key` of task instance ``ti`` (its ``dag_id``, ``run_id``, ``task_id``
    and ``map_index``)."""
    return approval_key(
        signer, model_name, alias, ti.dag_id, ti.run_id, ti.task_id, map_index_of(ti)
    )


def map_index_of(ti: Any) -> int:
    """Task instance ``ti``'s map index, ``-1`` when it is not mapped."""
    return -1 if ti.map_index is None else int(ti.map_index)


def review_request(
    signer: RecordSigner,
    model_name: str,
    alias: str,
    version: str,
    previous_version: str | None,
    ti: Any,
) -> ApprovalRecord:
    """The ``pending`` record of task instance ``ti`` asking about ``version`` of
    ``model_name`` against ``previous_version``, the holder of ``alias``."""
    return ApprovalRecord(
        model_name=model_name,
        version=version,
        status=PENDING,
        decided_by="",
        decided_at="",
        comment="",
        dag_run=f"{ti.dag_id}/{ti.run_id}",
        alias=alias,
        previous_version=previous_version,
        key=task_approval_key(signer, model_name, alias, ti),
    )


def request_as_xcom(request: ApprovalRecord, signer: RecordSigner) -> dict[str, Any]:
    """What a task pushes to XCom (:data:`REQUEST_XCOM_KEY`) before it waits: the versions
    compared, the key and Airflow's signature."""
    return {
        "version": request.version,
        "previous_version": request.previous_version,
        "key": request.key,
        "signature": request.signature(signer),
    }


def request_from_xcom(
    pushed: Mapping[str, Any] | None, signer: RecordSigner, model_name: str, alias: str, ti: Any
) -> ApprovalRecord:
    """The review request task instance ``ti`` pushed (``pushed``), checked against its
    signature and ``ti``: the version moved is the one the reviewer was shown.

    :raises MlflowRegistryError: when nothing was pushed.
    :raises TamperedRecordError: when the request was changed or replaced.
    """
    if not pushed:
        raise MlflowRegistryError(
            f"The review request of task {ti.task_id!r} (XCom {REQUEST_XCOM_KEY!r}) is "
            "missing: clear the task to ask again."
        )
    previous = pushed.get("previous_version")
    request = review_request(
        signer,
        model_name,
        alias,
        str(pushed.get("version")),
        None if previous is None else str(previous),
        ti,
    )
    check = request.check_signature(signer, pushed.get("signature"))
    if pushed.get("key") != request.key or check is not SignatureCheck.VALID:
        raise TamperedRecordError(
            f"The review request of task {ti.task_id!r} (XCom {REQUEST_XCOM_KEY!r}) was changed "
            "after the reviewer was asked (its signature does not verify for this task "
            f"instance): not moving {alias!r} of model {model_name!r}. Find out who wrote the "
            "XCom, then clear the task to ask again."
        )
    return request
