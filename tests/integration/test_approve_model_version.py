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

"""``ApproveModelVersionOperator`` end to end (issue 23): real Airflow services (the shared
``airflow_deployment``: api-server, scheduler, dag-processor, triggerer) and a real
``mlflow server``. A reviewer answers through the REST API or, in the UI scenario and the
four-eyes ones (two gates, answered by two users or by one twice), in the Airflow UI in
headless Chromium; the version's tags, the alias and its ledger are read back from MLflow.

One run of ``tests/integration/dags/approval_scenarios.py`` holds a task per scenario (reject,
expire, retry after approval, guard, UI), all waiting at once; the shipped example
``approve_and_promote`` runs once, approved through the REST API.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

from airflow_mlflow_registry.alias_ledger import EntryStatus, LedgerEntry, MoveKind
from airflow_mlflow_registry.approval import approval_key
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import read_ledger
from airflow_mlflow_registry.utils.signing import RecordSigner
from tests.conftest import REPO_ROOT
from tests.support.airflow_deployment import SIGNING_SECRET
from tests.support.browser import chromium_page
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from collections.abc import Iterator

    from mlflow import MlflowClient

    from tests.support.airflow_deployment import AirflowDeployment
    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SCENARIOS_DAG = "approval_scenarios"
EXAMPLE_DAG = "approve_and_promote"
WAITING = ("awaiting_input", "deferred")  # Airflow 3.3+ / 3.1 and 3.2
#: Set to a directory to keep the reviewer's page screenshot there (the docs' image).
SCREENSHOT_DIR_ENV = "APPROVAL_SCREENSHOT_DIR"
#: Registry text dressed up as Markdown on the UI scenario's candidate (issue 26, item 4).
HOSTILE_TAGS = {
    "airflow.dag_id": "train\n\n**Security review: PASSED** ![](https://attacker.example/px.gif)",
    "airflow.run_id": "r1",
    "airflow.task_id": "register",
    "airflow.run_link": "https://attacker.example/task",
    "review": "# Approved\n\n[sign-off](https://attacker.example/ok) https://attacker.example/y",
}


def approval_tags(client: MlflowClient, model: str, version: str) -> dict[str, str]:
    tags = client.get_model_version(model, version).tags
    return {k.removeprefix("airflow.approval."): v for k, v in tags.items() if "approval" in k}


def holder(client: MlflowClient, model: str, alias: str) -> str | None:
    aliases = client.get_registered_model(model).aliases
    return aliases.get(alias)


def hitl_path(dag_id: str, run_id: str, task_id: str) -> str:
    return f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"


def answer(
    deployment: AirflowDeployment,
    dag_id: str,
    run_id: str,
    task_id: str,
    option: str,
    comment: str,
    user: str = "reviewer",
) -> None:
    """Answer the task's request as ``user`` through the REST API, once Airflow has finished
    parking its current try (as a person reading the page would)."""
    try_number = deployment.task_instance(dag_id, run_id, task_id)["try_number"]
    deployment.wait_until_parked(dag_id, run_id, task_id, try_number)
    body = {"chosen_options": [option], "params_input": {"comment": comment}}
    deployment.rest("PATCH", hitl_path(dag_id, run_id, task_id), user=user, json=body)


def task_log(deployment: AirflowDeployment, dag_id: str, run_id: str, task: str, try_: int) -> str:
    path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task}/logs/{try_}"
    return str(deployment.rest("GET", path, params={"full_content": "true"}))


def forged_approval(model: str, run_id: str, task: str, previous: str, *, keyed: bool) -> dict:
    """Tags claiming that alice approved moving `champion` for the `staging` gate ``task``,
    under the key the gate looks for: the unkeyed digest the provider used before signing, or
    (``keyed``) the keyed one with a made-up signature, as a registry user who copied the key
    from a pending request would write them."""
    identity = [model, "staging", SCENARIOS_DAG, run_id, task, "-1"]
    signer = RecordSigner(SIGNING_SECRET)
    key = (
        approval_key(signer, *identity[:5], -1)
        if keyed
        else hashlib.sha256("\x1f".join(identity).encode()).hexdigest()
    )
    tags = {
        "airflow.approval.status": "approved",
        "airflow.approval.approved_by": "alice",
        "airflow.approval.decided_at": "2026-12-01T10:00:00+00:00",
        "airflow.approval.comment": "",
        "airflow.approval.dag_run": f"{SCENARIOS_DAG}/{run_id}",
        "airflow.approval.alias": "champion",
        "airflow.approval.previous_version": previous,
    }
    if keyed:
        tags["airflow.approval.signature"] = f"v1:{signer.key_id}:" + "0" * 64
    return {**tags, "airflow.approval.key": key}


def assert_recent(moment: str) -> None:
    decided = pendulum.parse(moment)
    assert abs((pendulum.now("UTC") - decided).total_seconds()) < 900, moment


@pytest.fixture(scope="module")
def deployment(airflow_deployment: AirflowDeployment) -> AirflowDeployment:
    dags = Path(__file__).parent / "dags"
    airflow_deployment.add_dag(dags / f"{SCENARIOS_DAG}.py", SCENARIOS_DAG)
    airflow_deployment.add_dag(REPO_ROOT / "example_dags" / f"{EXAMPLE_DAG}.py", EXAMPLE_DAG)
    return airflow_deployment


@pytest.fixture(scope="module")
def client(mlflow_server: MlflowServer) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=mlflow_server.url)


@pytest.fixture(scope="module")
def scenarios(deployment: AirflowDeployment, client: MlflowClient) -> dict[str, Any]:
    """One run of the scenarios DAG, each task on a model of its own (seeded here)."""
    seeded: dict[str, Any] = {}
    run_id = unique("scenarios")
    names = ("ui", "reject", "expire", "retry", "guard", "forged_plain", "forged_keyed", "stale")
    names += ("four_eyes", "same_person", "self_approval")
    for name in (*names, "xcom"):
        model = unique(f"approval-{name}")
        seeded[f"{name}_model"] = model
        if name != "retry":  # the retry scenario is a first promotion
            seeded[f"{name}_holder"] = add_version(
                client,
                model,
                {"accuracy": 0.90, "f1": 0.88},
                params={"C": "1.0", "max_iter": "200"},
                tags={"team": "search"},
                aliases=["champion"],
            )
        better = 0.80 if name == "guard" else 0.95
        tags = {"team": "search", "note": "tuned | retrained"}
        if name == "ui":
            tags |= HOSTILE_TAGS
        elif name.startswith("forged"):
            tags |= forged_approval(
                model, run_id, name, seeded[f"{name}_holder"], keyed=name == "forged_keyed"
            )
        seeded[f"{name}_candidate"] = add_version(
            client,
            model,
            {"accuracy": better, "f1": 0.91},
            params={"C": "0.5", "max_iter": "200"},
            tags=tags,
            aliases=["challenger"],
        )
    seeded["xcom_other"] = add_version(client, seeded["xcom_model"], {"accuracy": 0.5})
    seeded["reject_version"] = seeded["reject_candidate"]
    deployment.trigger(SCENARIOS_DAG, run_id, conf=seeded)
    return {**seeded, "run_id": run_id}


def test_example_approved_through_the_rest_api_moves_champion_and_records_the_decision(
    deployment: AirflowDeployment, client: MlflowClient
) -> None:
    model = unique("iris-reviewed")
    previous = add_version(
        client,
        model,
        {"accuracy": 0.5, "f1_macro": 0.4},
        params={"C": "0.01"},
        aliases=["champion"],
    )
    run_id = deployment.trigger(EXAMPLE_DAG, unique("example"), conf={"model_name": model})
    deployment.wait_for_task(EXAMPLE_DAG, run_id, "approve_champion", WAITING, timeout=300)
    candidate = holder(client, model, "challenger")
    assert candidate and candidate != previous
    assert holder(client, model, "champion") == previous  # nothing moves before the answer

    request = deployment.rest("GET", hitl_path(EXAMPLE_DAG, run_id, "approve_champion"))
    body = request["body"]
    assert request["subject"] == f"Promote {model} version {candidate} to 'champion'?"
    assert request["options"] == ["Approve", "Reject"]
    assert f"Candidate (version {candidate})" in body and f"(version {previous})" in body
    lines = body.splitlines()
    accuracy = client.get_run(client.get_model_version(model, candidate).run_id).data.metrics
    candidate_accuracy = accuracy["accuracy"]
    # The metric row, cell by cell: candidate, current holder, difference.
    assert (
        f"| accuracy | {candidate_accuracy:.6g} | 0.5 | {candidate_accuracy - 0.5:+.6g} |" in lines
    )
    assert "| C | 1\\.0 | 0\\.01 |" in body  # the parameter that differs
    # The guard's sentence, Markdown-escaped: "accuracy = <candidate> beats 0.5 (max wins)."
    guard = f"accuracy = {candidate_accuracy:.6g} beats 0.5 (max wins)."
    assert "**Automatic check passed:** " + re.sub(r"([.()=])", r"\\\1", guard) in lines
    assert f"DAG `{EXAMPLE_DAG}`, run `{run_id}`, task `register`" in body
    assert f"[This Airflow run]({deployment.url}/dags/{EXAMPLE_DAG}/runs/{run_id})" in body
    assert f"/#/models/{model}/versions/{candidate}" in body

    answer(deployment, EXAMPLE_DAG, run_id, "approve_champion", "Approve", "better on both")
    assert deployment.wait_for_run(EXAMPLE_DAG, run_id) == "success"
    assert holder(client, model, "champion") == candidate
    tags = approval_tags(client, model, candidate)
    assert tags["status"] == "approved" and tags["approved_by"] == "reviewer"
    assert tags["comment"] == "better on both"
    assert tags["dag_run"] == f"{EXAMPLE_DAG}/{run_id}"
    assert tags["previous_version"] == previous and tags["alias"] == "champion"
    assert_recent(tags["decided_at"])
    record = deployment.xcom(EXAMPLE_DAG, run_id, "approve_champion")
    assert record["decision"] == "approved" and record["changed"] is True
    assert (record["version"], record["previous_version"]) == (candidate, previous)
    assert record["decided_by"] == "reviewer" and record["asked"] is True
    assert deployment.task_instance(EXAMPLE_DAG, run_id, "deploy")["state"] == "success"


def test_reject_records_rejected_moves_nothing(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    run_id, model = scenarios["run_id"], scenarios["reject_model"]
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "reject", WAITING)
    answer(deployment, SCENARIOS_DAG, run_id, "reject", "Reject", "f1 is not enough")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "reject", ("success",))
    assert holder(client, model, "champion") == scenarios["reject_holder"]
    tags = approval_tags(client, model, scenarios["reject_candidate"])
    assert tags["status"] == "rejected" and tags["approved_by"] == "reviewer"
    assert tags["comment"] == "f1 is not enough"
    record = deployment.xcom(SCENARIOS_DAG, run_id, "reject")
    assert record["decision"] == "rejected" and record["changed"] is False


def test_timeout_records_expired_and_rejects_by_default(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    run_id, model = scenarios["run_id"], scenarios["expire_model"]
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "expire", ("success", "failed"), timeout=300)
    assert holder(client, model, "champion") == scenarios["expire_holder"]
    tags = approval_tags(client, model, scenarios["expire_candidate"])
    assert tags["status"] == "expired" and tags["approved_by"] == ""
    assert_recent(tags["decided_at"])
    record = deployment.xcom(SCENARIOS_DAG, run_id, "expire")
    assert record["decision"] == "expired" and record["changed"] is False
    assert record["decided_by"] is None
    assert deployment.task_instance(SCENARIOS_DAG, run_id, "expire")["state"] == "success"


def test_guard_skips_without_asking_when_the_candidate_is_worse(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    run_id, model = scenarios["run_id"], scenarios["guard_model"]
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "guard_blocks", ("skipped",))
    response = deployment.api().get(
        f"{deployment.url}/api/v2/{hitl_path(SCENARIOS_DAG, run_id, 'guard_blocks')}", timeout=60
    )
    assert response.status_code == 404, response.text  # nobody was asked
    assert holder(client, model, "champion") == scenarios["guard_holder"]
    assert approval_tags(client, model, scenarios["guard_candidate"]) == {}


def test_retry_after_approval_does_not_ask_again_and_a_clear_refuses_a_changed_candidate(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    run_id, model = scenarios["run_id"], scenarios["retry_model"]
    task = "retry_after_approval"
    candidate = scenarios["retry_candidate"]
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, WAITING, try_number=1)
    body = deployment.rest("GET", hitl_path(SCENARIOS_DAG, run_id, task))["body"]
    assert "**First promotion:**" in body and "Current" not in body
    answer(deployment, SCENARIOS_DAG, run_id, task, "Approve", "first champion")

    ti = deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("success", "failed"), try_number=2)
    assert ti["state"] == "success"
    assert holder(client, model, "champion") == candidate
    record = deployment.xcom(SCENARIOS_DAG, run_id, task)
    # Try 2 took the decision try 1 recorded; the alias was already there (moved by try 1).
    assert (record["decision"], record["asked"], record["changed"]) == ("approved", False, False)
    assert record["comment"] == "first champion" and record["decided_by"] == "reviewer"
    # Try 2 wrote no request: the one on record is try 1's, answered before try 2 started.
    detail = deployment.rest("GET", hitl_path(SCENARIOS_DAG, run_id, task))
    assert detail["chosen_options"] == ["Approve"] and detail["response_received"] is True
    assert pendulum.parse(detail["created_at"]) < pendulum.parse(ti["start_date"])
    first_decision = approval_tags(client, model, candidate)
    assert first_decision["status"] == "approved"

    clear = {"dry_run": False, "only_failed": False, "task_ids": [task], "dag_run_id": run_id}
    # Cleared with the same candidate: the recorded decision stands, nobody is asked.
    deployment.rest("POST", f"dags/{SCENARIOS_DAG}/clearTaskInstances", json=clear)
    ti = deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("success", "failed"), try_number=3)
    assert ti["state"] == "success"
    assert deployment.xcom(SCENARIOS_DAG, run_id, task)["asked"] is False
    assert approval_tags(client, model, candidate) == first_decision

    # Cleared after `challenger` moved to a new version: Airflow would show the reviewer the
    # first request's page (it keeps one per task instance), so the task refuses to ask.
    newer = add_version(client, model, {"accuracy": 0.97}, aliases=["challenger"])
    deployment.rest("POST", f"dags/{SCENARIOS_DAG}/clearTaskInstances", json=clear)
    ti = deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("failed",), try_number=5)
    log = deployment.rest(
        "GET",
        f"dags/{SCENARIOS_DAG}/dagRuns/{run_id}/taskInstances/{task}/logs/4",
        params={"full_content": "true"},
    )
    assert "ReviewRequestChangedError" in str(log) and "start a new DAG run" in str(log)
    assert holder(client, model, "champion") == candidate
    assert approval_tags(client, model, newer) == {}


@pytest.mark.parametrize("task", ["forged_plain", "forged_keyed"])
def test_forged_approval_tags_move_nothing_and_a_person_is_asked(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any], task: str
) -> None:
    """Issue 26, items 1 and 2: tags claiming an approval (status, approver, key, and an alias
    other than the gate's) are not a decision; the gate asks, and moves only its own alias."""
    run_id, model = scenarios["run_id"], scenarios[f"{task}_model"]
    candidate, previous = scenarios[f"{task}_candidate"], scenarios[f"{task}_holder"]
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, WAITING)
    request = deployment.rest("GET", hitl_path(SCENARIOS_DAG, run_id, task))
    assert request["response_received"] is False  # a person is asked
    assert holder(client, model, "champion") == previous
    assert holder(client, model, "staging") is None
    answer(deployment, SCENARIOS_DAG, run_id, task, "Approve", "looked at it")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("success",))
    assert holder(client, model, "staging") == candidate  # the gate's own alias
    assert holder(client, model, "champion") == previous  # never the tag's
    tags = approval_tags(client, model, candidate)
    assert (tags["approved_by"], tags["alias"]) == ("reviewer", "staging")
    log = task_log(deployment, SCENARIOS_DAG, run_id, task, 1)
    # The keyed forgery carries this task instance's key: flagged. The unkeyed one is not a
    # key this gate uses at all.
    assert ("tampered" in log) is (task == "forged_keyed"), log[-3000:]


def test_approval_is_refused_when_the_alias_moved_after_the_reviewer_was_asked(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    """Issue 26, item 3: the reviewer compared v2 with v1; `champion` moved to v3 meanwhile.
    The approval does not move it back, neither when it arrives nor after a clear."""
    run_id, model, task = scenarios["run_id"], scenarios["stale_model"], "stale"
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, WAITING)
    moved = add_version(client, model, {"accuracy": 0.99}, aliases=["champion"])
    answer(deployment, SCENARIOS_DAG, run_id, task, "Approve", "v2 beats v1")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("failed",), try_number=1)
    assert holder(client, model, "champion") == moved
    log = task_log(deployment, SCENARIOS_DAG, run_id, task, 1)
    assert "StaleApprovalError" in log and f"now points at version {moved}" in log, log[-3000:]

    clear = {"dry_run": False, "only_failed": False, "task_ids": [task], "dag_run_id": run_id}
    deployment.rest("POST", f"dags/{SCENARIOS_DAG}/clearTaskInstances", json=clear)
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("failed",), try_number=2)
    assert holder(client, model, "champion") == moved
    log = task_log(deployment, SCENARIOS_DAG, run_id, task, 2)
    assert "signed record" in log and "StaleApprovalError" in log, log[-3000:]


def test_a_review_request_changed_in_xcom_moves_nothing(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    """Issue 26, item 5: a DAG editor rewrites the pushed review request to name another
    version before the reviewer answers; the approval moves nothing."""
    run_id, model, task = scenarios["run_id"], scenarios["xcom_model"], "xcom_changed"
    waiting = deployment.wait_for_task(SCENARIOS_DAG, run_id, task, WAITING)
    deployment.wait_until_parked(SCENARIOS_DAG, run_id, task, waiting["try_number"])
    request = deployment.xcom(SCENARIOS_DAG, run_id, task, key="approval_request")
    assert request["version"] == scenarios["xcom_candidate"]
    changed = {**request, "version": scenarios["xcom_other"]}
    path = f"dags/{SCENARIOS_DAG}/dagRuns/{run_id}/taskInstances/{task}/xcomEntries"
    deployment.rest("PATCH", f"{path}/approval_request", json={"value": changed})
    answer(deployment, SCENARIOS_DAG, run_id, task, "Approve", "ok")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("failed",))
    assert holder(client, model, "champion") == scenarios["xcom_holder"]
    log = task_log(deployment, SCENARIOS_DAG, run_id, task, 1)
    assert "TamperedRecordError" in log, log[-3000:]


def required_actions_url(deployment: AirflowDeployment, run_id: str, task: str) -> str:
    """The task's human-in-the-loop page in the Airflow UI."""
    return f"{deployment.url}/dags/{SCENARIOS_DAG}/runs/{run_id}/tasks/{task}/required_actions"


def approve_in_ui(
    deployment: AirflowDeployment, profile_dir: Path, user: str, run_id: str, task: str
) -> None:
    """Sign in as ``user`` in a fresh headless Chromium and click Approve on the task's page,
    once Airflow has parked its try; return when Airflow has the answer."""
    waiting = deployment.wait_for_task(SCENARIOS_DAG, run_id, task, WAITING)
    deployment.wait_until_parked(SCENARIOS_DAG, run_id, task, waiting["try_number"])
    with chromium_page(profile_dir / f"{user}-{task}") as page:
        deployment.log_in(page, user)
        page.goto(required_actions_url(deployment, run_id, task), wait_until="networkidle")
        page.get_by_role("button", name="Approve").click()

        def answered() -> dict[str, Any] | None:
            detail = deployment.rest("GET", hitl_path(SCENARIOS_DAG, run_id, task))
            return detail if detail["response_received"] else None

        detail = deployment.wait_for(answered, f"{user}'s answer to {task}")
    assert detail["chosen_options"] == ["Approve"]
    assert detail["responded_by_user"]["name"] == user


def approvals_in_ledger(model: str) -> list[LedgerEntry]:
    """The approval entries of ``model``'s alias ledger, read through ``mlflow_default`` and
    checked with the deployment's signing secret."""
    registry = MlflowRegistryHook().registry_calls
    entries = read_ledger(registry, model, RecordSigner(SIGNING_SECRET))
    return [entry for entry in entries if entry.kind == MoveKind.APPROVAL.value]


@pytest.mark.browser
def test_four_eyes_two_people_approve_in_the_ui_before_the_alias_moves(
    deployment: AirflowDeployment,
    client: MlflowClient,
    default_registry: MlflowClient,
    scenarios: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Issue 26, item 6 end to end: `required_approvals=2` across two chained gates of one
    run, each answered in the Airflow UI (Chromium) by another deployment user; the alias
    moves only after the second, and the ledger has one approval entry naming both."""
    run_id, model = scenarios["run_id"], scenarios["four_eyes_model"]
    candidate, previous = scenarios["four_eyes_candidate"], scenarios["four_eyes_holder"]
    approve_in_ui(deployment, tmp_path, "admin", run_id, "four_eyes_1")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "four_eyes_1", ("success",))
    first = deployment.xcom(SCENARIOS_DAG, run_id, "four_eyes_1")
    assert (first["approvals"], first["changed"]) == (["admin"], False)
    assert holder(client, model, "champion") == previous  # one approval is not enough
    assert approvals_in_ledger(model) == []
    approve_in_ui(deployment, tmp_path, "reviewer", run_id, "four_eyes_2")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "four_eyes_2", ("success",))
    second = deployment.xcom(SCENARIOS_DAG, run_id, "four_eyes_2")
    assert (second["approvals"], second["changed"]) == (["admin", "reviewer"], True)
    assert holder(client, model, "champion") == candidate
    [entry] = approvals_in_ledger(model)
    assert entry.status is EntryStatus.VERIFIED
    assert (entry.alias, entry.from_version, entry.to_version) == ("champion", previous, candidate)
    assert entry.why["approvers"] == "admin, reviewer"
    assert entry.by.startswith(f"{SCENARIOS_DAG}/{run_id}/four_eyes_2/try ")


@pytest.mark.browser
def test_the_same_person_approving_both_gates_in_the_ui_is_refused_by_rule(
    deployment: AirflowDeployment,
    client: MlflowClient,
    default_registry: MlflowClient,
    scenarios: dict[str, Any],
    tmp_path: Path,
) -> None:
    """Issue 26, item 6: one person answering both gates in the UI; the second gate fails
    naming the rule, nothing moves and the ledger has no approval."""
    run_id, model = scenarios["run_id"], scenarios["same_person_model"]
    for task in ("same_person_1", "same_person_2"):
        approve_in_ui(deployment, tmp_path, "reviewer", run_id, task)
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "same_person_2", ("failed",))
    log = task_log(deployment, SCENARIOS_DAG, run_id, "same_person_2", 1)
    assert "required_approvals=2 refused" in log and "reviewer already approved" in log
    assert holder(client, model, "champion") == scenarios["same_person_holder"]
    assert approvals_in_ledger(model) == []


def test_the_person_who_triggered_the_run_is_refused_by_rule(
    deployment: AirflowDeployment, client: MlflowClient, scenarios: dict[str, Any]
) -> None:
    """Issue 26, item 6: `exclude_triggering_user`; the refusal names the rule, nothing
    moves. The scenarios run was triggered through the REST API as admin."""
    run_id = scenarios["run_id"]
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "self_approval", WAITING)
    answer(deployment, SCENARIOS_DAG, run_id, "self_approval", "Approve", "mine", "admin")
    deployment.wait_for_task(SCENARIOS_DAG, run_id, "self_approval", ("failed",))
    log = task_log(deployment, SCENARIOS_DAG, run_id, "self_approval", 1)
    assert "exclude_triggering_user refused" in log and "admin triggered" in log, log[-3000:]
    model = scenarios["self_approval_model"]
    assert holder(client, model, "champion") == scenarios["self_approval_holder"]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """A page of a fresh headless Chromium, tall enough for the whole request, Approve button
    included, in the screenshot."""
    with chromium_page(tmp_path / "chromium-profile", height=1900) as page:
        yield page


@pytest.mark.browser
def test_reviewer_approves_in_the_airflow_ui_on_the_page_with_the_metrics(
    deployment: AirflowDeployment,
    client: MlflowClient,
    mlflow_server: MlflowServer,
    scenarios: dict[str, Any],
    page: Any,
    tmp_path: Path,
) -> None:
    run_id, model = scenarios["run_id"], scenarios["ui_model"]
    candidate, previous = scenarios["ui_candidate"], scenarios["ui_holder"]
    task = "approve_in_ui"
    waiting = deployment.wait_for_task(SCENARIOS_DAG, run_id, task, WAITING)
    deployment.wait_until_parked(SCENARIOS_DAG, run_id, task, waiting["try_number"])

    deployment.log_in(page, "reviewer")
    page.goto(required_actions_url(deployment, run_id, task), wait_until="networkidle")
    metrics = page.get_by_role("row").filter(has_text="accuracy")
    metrics.first.wait_for()
    # The metric row, cell by cell: candidate, current holder, difference.
    cells = metrics.first.get_by_role("cell").all_inner_texts()
    assert [cell.strip() for cell in cells] == ["accuracy", "0.95", "0.9", f"{0.95 - 0.90:+.6g}"]
    assert page.get_by_text(f"Candidate (version {candidate})").count() >= 1
    # Registry text shows as written (issue 26, item 4): no image, link, heading or emphasis
    # made of it, and every link leads to this Airflow or to the MLflow server.
    assert page.get_by_text("Security review: PASSED").count() >= 1
    assert page.locator("strong", has_text="Security review").count() == 0
    assert page.locator("h1, h2, h3, h4, h5, h6", has_text="Approved").count() == 0
    sources = page.eval_on_selector_all("img", "nodes => nodes.map(n => n.src)")
    assert not [src for src in sources if "attacker" in src], sources
    links = page.eval_on_selector_all("a[href]", "nodes => nodes.map(n => n.href)")
    mlflow_url = mlflow_server.url
    foreign = [h for h in links if not h.startswith((deployment.url, mlflow_url))]
    assert any(h.startswith(mlflow_url) for h in links) and not foreign, links
    screenshot = tmp_path / "approval-review-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_DIR_ENV):
        shutil.copy(screenshot, Path(os.environ[SCREENSHOT_DIR_ENV]) / screenshot.name)
    page.get_by_role("button", name="Approve").click()

    deployment.wait_for_task(SCENARIOS_DAG, run_id, task, ("success",))
    assert holder(client, model, "champion") == candidate
    tags = approval_tags(client, model, candidate)
    assert tags["status"] == "approved" and tags["approved_by"] == "reviewer"
    assert tags["previous_version"] == previous
