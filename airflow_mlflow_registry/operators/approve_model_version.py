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

"""``ApproveModelVersionOperator``: a person approves (or rejects) moving an alias such as
``champion`` to a candidate version, in the Airflow UI or through its REST API; the decision is
recorded on the version."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict

from airflow_mlflow_registry.alias_ledger import MoveKind
from airflow_mlflow_registry.approval import (
    APPROVED,
    EXPIRED,
    KEY_TAG,
    REJECTED,
    REQUEST_XCOM_KEY,
    ApprovalRecord,
    map_index_of,
    request_as_xcom,
    request_from_xcom,
    review_request,
    task_approval_key,
)
from airflow_mlflow_registry.approval_policy import (
    SIGNATURE_FIELD,
    ApprovalPolicy,
    verified_upstream_approvals,
)
from airflow_mlflow_registry.exceptions import (
    HumanInTheLoopUnavailableError,
    NoCandidateVersionError,
    ReviewRequestChangedError,
    StaleApprovalError,
)
from airflow_mlflow_registry.hooks.aliases import MoveReason
from airflow_mlflow_registry.hooks.mlflow_registry import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_creation import find_model_versions_by_key
from airflow_mlflow_registry.lineage import dag_run_link
from airflow_mlflow_registry.metric_guard import check_improvement, check_metric_direction
from airflow_mlflow_registry.operators.model_version_outputs import ModelVersionOutputsMixin
from airflow_mlflow_registry.review_page import review_page, version_view
from airflow_mlflow_registry.utils.redaction import display_uri
from airflow_mlflow_registry.utils.search_filters import check_version_number
from airflow_mlflow_registry.utils.signing import task_signer
from airflow_mlflow_registry.utils.validation import (
    check_aliases,
    check_model_name,
    check_optional_alias,
    is_templated,
)
from airflow_mlflow_registry.version_compat import (
    HITL_MISSING,
    HITL_TIMEOUT_ARGUMENT,
    ApprovalOperator,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.sdk import Context
    from mlflow.entities.model_registry import ModelVersion

    from airflow_mlflow_registry.utils.signing import RecordSigner

COMMENT_PARAM = "comment"


class ApproveModelVersionOperator(ModelVersionOutputsMixin, ApprovalOperator):
    """Ask a person to approve pointing ``alias`` (e.g. ``champion``) of ``model_name`` at a
    candidate version, on a page comparing it with the version the alias points at now; on
    approval move the alias, and record the decision on the version as signed tags.

    Only the reviewer's answer and records signed with the Airflow variable
    ``mlflow_registry_signing_secret`` authorise a move; only ``alias`` moves, and only while
    it still points where the reviewer saw it. A later try takes this task instance's signed
    decision without asking again. Needs Airflow 3.1 or later.

    Returns (and pushes to XCom) a plain dict: ``model_name``, ``alias``, ``version``,
    ``previous_version``, ``decision`` (``approved``, ``rejected``, ``expired`` or
    ``unchanged``), ``changed``, ``asked``, ``decided_by``, ``decided_at``, ``comment``,
    ``approvals``, ``required_approvals``, ``approval_signature``, ``model_uri``,
    ``model_version_url``, ``source``, ``run_id``, ``tracking_uri``.

    .. seealso:: :doc:`/operators/approve_model_version` (what the reviewer sees, retries and
        clears, timeouts, four eyes, what authorises a move) and
        :doc:`/howto/approve_and_promote`.

    :param model_name: registered model name. Templated.
    :param alias: the alias to move on approval, e.g. ``"champion"``. Templated.
    :param version: the candidate version number. Templated.
    :param from_alias: the alias whose version is the candidate, e.g. ``"challenger"``.
        Templated.
    :param compare_metrics: metrics to show side by side (default: every metric either source
        run logged). Templated.
    :param guard_metric: require the candidate to beat the current holder on this metric
        before asking. Templated.
    :param metric_direction: ``"max"`` (default) or ``"min"``: which value of
        ``guard_metric`` is better. Templated.
    :param subject: the request's headline (default: "Promote <model> version <n> to
        '<alias>'?"). Templated.
    :param response_timeout: how long to wait for an answer (default: no limit); given to
        ``ApprovalOperator`` as its ``response_timeout`` (its ``execution_timeout`` with the
        standard provider of Airflow 3.1, which bounds the wait with that).
    :param defaults: ``"Reject"`` to reject when ``response_timeout`` passes (the task
        succeeds, status ``expired``); None (default) fails the task then. Approving on a
        timeout is refused: an approval gate does not approve by itself.
    :param required_approvals: distinct people who must approve before the alias moves; with
        more than one, chain that many approval tasks in the run, each with this policy
        (:mod:`airflow_mlflow_registry.approval_policy`).
    :param exclude_triggering_user: refuse an approval by the person who triggered the run.
    :param emit_asset: as in ``SetModelVersionAliasOperator``: an asset event when the alias
        moved.
    :param mlflow_conn_id: Airflow connection of type ``mlflow`` (default ``mlflow_default``).
    :param kwargs: further arguments of Airflow's ``ApprovalOperator`` and ``BaseOperator``:
        ``assigned_users``, ``notifiers``, ``params`` (more fields for
        the reviewer), ``ignore_downstream_trigger_rules``, ``fail_on_reject``, ``task_id``...
    :raises HumanInTheLoopUnavailableError: on Airflow 3.0.
    :raises ValueError: for invalid arguments, naming the argument.
    :raises ReviewRequestChangedError: when a later try would ask about another comparison.
    :raises StaleApprovalError: when the alias moved after the reviewer was asked.
    :raises TamperedRecordError: when the review request kept in XCom was changed.
    :raises SigningSecretError: when the signing secret is not set.
    :raises ApprovalPolicyError: when the policy refuses the approval, naming the rule.
    :raises NoCandidateVersionError: when the candidate does not exist or is not READY, or
        lacks ``guard_metric``.
    """

    template_fields: Sequence[str] = (
        "model_name",
        "alias",
        "version",
        "from_alias",
        "compare_metrics",
        "guard_metric",
        "metric_direction",
        "subject",
    )
    ui_color = "#d0e9f7"

    def __init__(
        self,
        *,
        model_name: str,
        alias: str,
        version: str | int | None = None,
        from_alias: str | None = None,
        compare_metrics: Sequence[str] | None = None,
        guard_metric: str | None = None,
        metric_direction: str = "max",
        subject: str | None = None,
        response_timeout: timedelta | None = None,
        defaults: str | list[str] | None = None,
        required_approvals: int = 1,
        exclude_triggering_user: bool = False,
        emit_asset: bool = False,
        mlflow_conn_id: str = MlflowRegistryHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        if HITL_MISSING is not None:
            raise HumanInTheLoopUnavailableError(
                f"ApproveModelVersionOperator needs Airflow 3.1 or later: {HITL_MISSING}. "
                "Upgrade Airflow, or promote without a person with SetModelVersionAliasOperator "
                "(require_improvement=True for an automatic metric gate)."
            )
        if (version is None) == (from_alias is None):
            raise ValueError("Give exactly one of version and from_alias (the candidate).")
        if "body" in kwargs:
            raise ValueError("body is not accepted: the review page is generated.")
        if defaults not in (None, self.REJECT, [self.REJECT]):
            raise ValueError(
                f"defaults must be None or {self.REJECT!r}, got {defaults!r}: an approval gate "
                "does not approve by itself when nobody answers."
            )
        check_metric_direction(metric_direction)
        self.policy = ApprovalPolicy(required_approvals, exclude_triggering_user)
        # Airflow passes the DAG's and the task's params merged, as a ParamsDict of Params.
        params = kwargs.pop("params", None)
        params = params if isinstance(params, ParamsDict) else ParamsDict(params or {})
        comment = Param(
            None,
            type=["null", "string"],
            title="Comment",
            description="Why you approve or reject; recorded on the model version.",
        )
        comment.source = "task"  # a task-level field: kept in the request on Airflow 3.3+
        params[COMMENT_PARAM] = comment
        if response_timeout is not None:
            kwargs[HITL_TIMEOUT_ARGUMENT] = response_timeout
        super().__init__(subject=subject or "", defaults=defaults, params=params, **kwargs)
        self.model_name = model_name if is_templated(model_name) else check_model_name(model_name)
        self.alias = check_optional_alias(alias, "alias")
        if version is not None and not is_templated(version):
            version = check_version_number(version, "version")
        self.version = version
        self.from_alias = check_optional_alias(from_alias, "from_alias")
        if isinstance(compare_metrics, str) and not is_templated(compare_metrics):
            compare_metrics = [compare_metrics]
        if compare_metrics and not is_templated(compare_metrics):
            compare_metrics = list(compare_metrics)
        self.compare_metrics = compare_metrics or None
        if guard_metric is not None and not (isinstance(guard_metric, str) and guard_metric):
            raise ValueError(f"guard_metric must be a metric name, got {guard_metric!r}.")
        self.guard_metric = guard_metric
        self.metric_direction = metric_direction
        self.mlflow_conn_id = mlflow_conn_id
        self._declare_model_asset(emit_asset, model_name, mlflow_conn_id)

    # ------------------------------------------------------------------------ asking

    def execute(self, context: Context) -> Any:
        """Take this task instance's signed decision, or check the guard, write the review
        page and wait for the reviewer (Airflow resumes in :meth:`execute_complete`)."""
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        model_name = check_model_name(self.model_name)
        alias = check_aliases([self.alias], "alias")[0]
        candidate = self._candidate(hook, model_name)
        ti = context["ti"]
        signer = task_signer()
        key = task_approval_key(signer, model_name, alias, ti)
        recorded = ApprovalRecord.from_tags(
            model_name, candidate.version, candidate.tags or {}, key, signer
        )
        if recorded is not None and recorded.final:
            self.log.info(
                "Version %s of model %r was %s by %s at %s for this task instance (signed "
                "record): not asking again.",
                candidate.version,
                model_name,
                recorded.status,
                recorded.decided_by,
                recorded.decided_at,
            )
            return self._conclude(context, hook, candidate, recorded, signer, asked=False)
        holder = hook.get_version_by_alias(model_name, alias)
        if holder is not None and str(holder.version) == str(candidate.version):
            self.log.info(
                "Alias %r of model %r already points at version %s: nothing to approve.",
                alias,
                model_name,
                candidate.version,
            )
            record = self._record(hook, candidate, alias, holder.version, changed=False)
            return self._publish(context, record, alias, changed=False)
        previous_version = None if holder is None else str(holder.version)
        guard = self._check_guard(hook, alias, candidate) if self.guard_metric else None
        self._check_same_request(hook, signer, key, candidate, previous_version)
        self.body = review_page(
            model_name,
            alias,
            version_view(hook, candidate),
            version_view(hook, holder) if holder is not None else None,
            metrics=[self.compare_metrics]
            if isinstance(self.compare_metrics, str)
            else self.compare_metrics,
            airflow_run_url=dag_run_link(ti.dag_id, ti.run_id),
            guard=guard,
        )
        self.subject = (
            self.subject or f"Promote {model_name} version {candidate.version} to {alias!r}?"
        )
        pending = review_request(
            signer, model_name, alias, str(candidate.version), previous_version, ti
        )
        hook.set_model_version_tags(model_name, candidate.version, pending.as_tags(signer))
        ti.xcom_push(key=REQUEST_XCOM_KEY, value=request_as_xcom(pending, signer))
        self.log.info(
            "Asking to move %r of model %r from version %s to %s.",
            alias,
            model_name,
            previous_version or "(none)",
            candidate.version,
        )
        return super().execute(context)

    def _candidate(self, hook: MlflowRegistryHook, model_name: str) -> ModelVersion:
        """The READY candidate version, by number or alias."""
        if self.version is not None:
            candidate = hook.get_model_version_entity(
                model_name, check_version_number(self.version, "version")
            )
        else:
            from_alias = check_aliases([self.from_alias], "from_alias")[0]
            found = hook.get_version_by_alias(model_name, from_alias)
            if found is None:
                raise NoCandidateVersionError(
                    f"Alias {from_alias!r} of model {model_name!r} does not exist (or the model "
                    "does not): no candidate to approve."
                )
            candidate = found
        if candidate.status != "READY":
            raise NoCandidateVersionError(
                f"Model {model_name!r} version {candidate.version} is {candidate.status}, not "
                "READY: not asking for its approval."
            )
        return candidate

    def _check_same_request(
        self,
        hook: MlflowRegistryHook,
        signer: RecordSigner,
        key: str,
        candidate: ModelVersion,
        previous_version: str | None,
    ) -> None:
        """Refuse to ask when an earlier try of this task instance asked about another
        comparison (by its signed request): Airflow would show the reviewer that earlier
        page."""
        for earlier in find_model_versions_by_key(
            hook.registry_calls, candidate.name, key, run_id=None, key_tag=KEY_TAG
        ):
            record = ApprovalRecord.from_tags(
                candidate.name, earlier.version, earlier.tags or {}, key, signer
            )
            if record is None:
                continue
            shown = (record.version, record.previous_version)
            if shown == (str(candidate.version), previous_version):
                continue
            raise ReviewRequestChangedError(
                f"An earlier try of this task instance asked about version {shown[0]} of model "
                f"{candidate.name!r} (with {self.alias!r} at version {shown[1] or 'none'}); the "
                f"candidate is now version {candidate.version} (with {self.alias!r} at version "
                f"{previous_version or 'none'}). Airflow keeps the first review page of a task "
                "instance, so the reviewer would see the old comparison: start a new DAG run "
                f"to review version {candidate.version}."
            )

    def _check_guard(self, hook: MlflowRegistryHook, alias: str, candidate: ModelVersion) -> str:
        """Skip the task unless the candidate beats the holder on ``guard_metric``; return the
        sentence the page shows."""
        metric = str(self.guard_metric)
        value = hook.source_run_metric(candidate, metric)
        if value is None:
            raise NoCandidateVersionError(
                f"Model {candidate.name!r} version {candidate.version}: its source run has no "
                f"metric {metric!r}, so guard_metric cannot compare it; log the metric or "
                "remove guard_metric."
            )
        held = check_improvement(
            hook, alias, candidate, metric, self.metric_direction, value, self.log
        )
        if held is None:
            return f"{metric} = {value:.6g}; no current value to compare with."
        return f"{metric} = {value:.6g} beats {held:.6g} ({self.metric_direction} wins)."

    # ---------------------------------------------------------------------- the answer

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Record the reviewer's answer (or the expiry) on the version the page showed, move
        the alias on approval when it still points where the reviewer saw it, and finish as
        ``ApprovalOperator`` does."""
        ti = context["ti"]
        model_name = check_model_name(self.model_name)
        signer = task_signer()
        pushed = ti.xcom_pull(
            task_ids=ti.task_id, key=REQUEST_XCOM_KEY, map_indexes=map_index_of(ti)
        )
        alias = check_aliases([self.alias], "alias")[0]
        request = request_from_xcom(pushed, signer, model_name, alias, ti)
        timed_out = bool(event.get("timedout")) or event.get("error_type") == "timeout"
        if "error" in event and not timed_out:
            return super().execute_complete(context=context, event=event)  # raises
        if "error" not in event:
            self.validate_chosen_options(event["chosen_options"])
            timed_out = timed_out or event.get("responded_by_user") is None
        responder = event.get("responded_by_user") or {}
        responded_at = event.get("responded_at") or datetime.now(timezone.utc)
        if timed_out:
            status = EXPIRED
        else:
            approved = event["chosen_options"] == [self.APPROVE]
            status = APPROVED if approved else REJECTED
        decision = replace(
            request,
            status=status,
            decided_by="" if timed_out else str(responder.get("name") or responder.get("id")),
            decided_at=_iso(responded_at),
            comment=""
            if timed_out
            else str((event.get("params_input") or {}).get("comment") or ""),
        )
        hook = MlflowRegistryHook(mlflow_conn_id=self.mlflow_conn_id)
        candidate = hook.get_model_version_entity(model_name, decision.version)
        return self._conclude(context, hook, candidate, decision, signer, asked=True, event=event)

    def _conclude(
        self,
        context: Context,
        hook: MlflowRegistryHook,
        candidate: ModelVersion,
        decision: ApprovalRecord,
        signer: RecordSigner,
        *,
        asked: bool,
        event: dict[str, Any] | None = None,
    ) -> Any:
        """Record ``decision`` (when it is new), move the alias on approval, let
        ``ApprovalOperator`` skip the downstream tasks on rejection (or fail on a timeout
        without defaults), and return the record."""
        if asked:
            hook.set_model_version_tags(
                decision.model_name, decision.version, decision.as_tags(signer)
            )
            self.log.info(
                "Recorded on model %r version %s: %s by %s at %s.",
                decision.model_name,
                decision.version,
                decision.status,
                decision.decided_by or "nobody (the wait expired)",
                decision.decided_at,
            )
        approvers = self._approvers(context, decision, signer) if decision.approved else []
        enough = len(approvers) >= self.policy.required_approvals
        changed = (
            self._move_if_unmoved(hook, decision, approvers)
            if decision.approved and enough
            else False
        )
        record = self._record(
            hook, candidate, decision.alias, decision.previous_version, changed=changed
        )
        record.update(
            decision=decision.status,
            asked=asked,
            decided_by=decision.decided_by or None,
            decided_at=decision.decided_at,
            comment=decision.comment,
            approvals=approvers,
            required_approvals=self.policy.required_approvals,
        )
        if decision.final:
            record[SIGNATURE_FIELD] = decision.signature(signer)
        if decision.approved and not enough:
            self.log.info(
                "Approval %d of %d for model %r version %s (%s): %r moves when %d more "
                "distinct people approve in the next approval tasks of this run.",
                len(approvers),
                self.policy.required_approvals,
                decision.model_name,
                decision.version,
                ", ".join(approvers),
                decision.alias,
                self.policy.required_approvals - len(approvers),
            )
        super().execute_complete(context=context, event=event or _replayed_event(decision, self))
        return self._publish(context, record, decision.alias, changed=changed)

    def _approvers(
        self, context: Context, decision: ApprovalRecord, signer: RecordSigner
    ) -> list[str]:
        """The distinct people who approved ``decision``'s candidate in this run so far, by
        this task's answer and the signed records of its upstream approval tasks.

        :raises ApprovalPolicyError: when the policy refuses this approval.
        """
        ti = context["ti"]
        upstream = sorted(
            task.task_id
            for task in self.get_flat_relatives(upstream=True)
            if isinstance(task, ApproveModelVersionOperator)
        )
        earlier = verified_upstream_approvals(
            {task_id: ti.xcom_pull(task_ids=task_id) for task_id in upstream},
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            signer=signer,
        )
        triggering_user = getattr(context.get("dag_run"), "triggering_user_name", None)
        return self.policy.approvers(decision, earlier, triggering_user)

    def _move_if_unmoved(
        self, hook: MlflowRegistryHook, decision: ApprovalRecord, approvers: list[str]
    ) -> bool:
        """Point the alias at the approved version when it still points where the reviewer
        saw it (``decision.previous_version``); return whether it moved. The ledger entry names
        the ``approvers`` and the approval's key.

        MLflow has no compare-and-set: an alias moved by someone else between the read here
        and the update (two requests) is overwritten.

        :raises StaleApprovalError: when the alias has moved since the reviewer was asked.
        """
        model_name, alias, version = decision.model_name, decision.alias, decision.version
        holder = hook.get_version_by_alias(model_name, alias)
        now = None if holder is None else str(holder.version)
        if now == version:
            return False
        if now != decision.previous_version:
            raise StaleApprovalError(
                f"Not moving {alias!r} of model {model_name!r} to version {version}: "
                f"{decision.decided_by or 'the reviewer'} approved it against version "
                f"{decision.previous_version or 'none (a first promotion)'}, but {alias!r} now "
                f"points at version {now or 'none'}: it moved after the reviewer was asked. "
                f"Start a new DAG run to review version {version} against version "
                f"{now or 'none'}."
            )
        why = {"approvers": ", ".join(approvers), "approval_key": decision.key}
        reason = MoveReason(MoveKind.APPROVAL, why)
        return hook.set_model_version_alias(model_name, alias, version, reason) != version

    def _record(
        self,
        hook: MlflowRegistryHook,
        candidate: ModelVersion,
        alias: str,
        previous_version: str | int | None,
        *,
        changed: bool,
    ) -> dict[str, Any]:
        version = str(candidate.version)
        return {
            "model_name": candidate.name,
            "alias": alias,
            "version": version,
            "previous_version": None if previous_version is None else str(previous_version),
            "decision": "unchanged",
            "changed": changed,
            "asked": False,
            "decided_by": None,
            "decided_at": None,
            "comment": None,
            "model_uri": f"models:/{candidate.name}/{version}",
            "model_version_url": hook.model_version_url(candidate.name, version),
            "source": display_uri(candidate.source) if candidate.source else candidate.source,
            "run_id": candidate.run_id or None,
            "tracking_uri": hook.tracking_uri,
        }


def _replayed_event(decision: ApprovalRecord, operator: ApprovalOperator) -> dict[str, Any]:
    """The answer ``decision`` recorded, in the shape Airflow resumes a task with."""
    chosen = operator.APPROVE if decision.approved else operator.REJECT
    user = {"id": decision.decided_by, "name": decision.decided_by}
    return {
        "chosen_options": [chosen],
        "params_input": {},
        "responded_at": datetime.fromisoformat(decision.decided_at),
        "responded_by_user": user,
    }


def _iso(moment: Any) -> str:
    """``moment`` (a datetime, or an ISO string from a serialized event) as ISO-8601 UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
