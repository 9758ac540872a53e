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

"""``ApproveModelVersionOperator`` without Airflow's processes: construction and DAG parse on
Airflow 3.1+, the clear refusal on 3.0 (``compat``: every matrix entry runs these and the test
branches on the installed Airflow), and the review page and decision tags as pure functions.
The operator against real Airflow services: tests/integration/test_approve_model_version.py.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from packaging.version import Version

from airflow_mlflow_registry.approval import (
    EXPIRED,
    PENDING,
    SIGNATURE_TAG,
    ApprovalRecord,
    approval_key,
)
from airflow_mlflow_registry.review_page import VersionView, review_page
from airflow_mlflow_registry.utils.signing import RecordSigner, SignatureCheck

if TYPE_CHECKING:
    from pathlib import Path

DAG_FILE = """
import pendulum
from datetime import timedelta
from airflow.sdk import DAG
from airflow_mlflow_registry.operators import ApproveModelVersionOperator

with DAG("approval_parse", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
         params={"threshold": 1}):
    ApproveModelVersionOperator(
        task_id="approve",
        model_name="churn",
        alias="champion",
        from_alias="challenger",
        guard_metric="accuracy",
        response_timeout=timedelta(hours=1),
        defaults="Reject",
    )
"""


def hitl_expected() -> bool:
    """Human-in-the-loop exists from Airflow 3.1."""
    import airflow

    return Version(airflow.__version__).release[:2] >= (3, 1)


def parse(dags_folder: Path) -> Any:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0, 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    (dags_folder / "approval_parse.py").write_text(textwrap.dedent(DAG_FILE))
    return DagBag(dag_folder=str(dags_folder))


@pytest.mark.compat
def test_human_in_the_loop_is_detected_as_the_installed_airflow_has_it() -> None:
    from airflow_mlflow_registry.version_compat import HITL_MISSING

    assert (HITL_MISSING is None) == hitl_expected(), HITL_MISSING


@pytest.mark.compat
def test_dag_parses_on_airflow_3_1_and_later_and_refuses_clearly_on_3_0(tmp_path: Path) -> None:
    bag = parse(tmp_path)
    if not hitl_expected():
        [error] = bag.import_errors.values()
        assert "ApproveModelVersionOperator needs Airflow 3.1 or later" in error
        assert "SetModelVersionAliasOperator" in error
        return
    assert bag.import_errors == {}
    task = bag.dags["approval_parse"].get_task("approve")
    assert type(task).__name__ == "ApproveModelVersionOperator"
    assert (task.model_name, task.alias, task.from_alias) == ("churn", "champion", "challenger")
    assert task.options == ["Approve", "Reject"] and task.defaults == ["Reject"]
    assert "comment" in task.serialized_params


@pytest.mark.compat
def test_construction_checks_arguments_or_refuses_on_3_0() -> None:
    from airflow_mlflow_registry.exceptions import HumanInTheLoopUnavailableError
    from airflow_mlflow_registry.operators import ApproveModelVersionOperator

    arguments = {"task_id": "approve", "model_name": "m", "alias": "champion", "version": 3}
    if not hitl_expected():
        with pytest.raises(HumanInTheLoopUnavailableError, match=r"needs Airflow 3\.1 or later"):
            ApproveModelVersionOperator(**arguments)
        return
    operator = ApproveModelVersionOperator(**arguments, compare_metrics="accuracy")
    assert operator.version == 3 and operator.from_alias is None
    assert operator.compare_metrics == ["accuracy"]
    templated = ApproveModelVersionOperator(**arguments, compare_metrics="{{ params.metrics }}")
    assert templated.compare_metrics == "{{ params.metrics }}"
    assert set(operator.template_fields) >= {"model_name", "alias", "version", "from_alias"}
    with pytest.raises(ValueError, match="exactly one of version and from_alias"):
        ApproveModelVersionOperator(**arguments, from_alias="challenger")
    with pytest.raises(ValueError, match="does not approve by itself"):
        ApproveModelVersionOperator(**arguments, defaults="Approve")
    with pytest.raises(ValueError, match="metric_direction"):
        ApproveModelVersionOperator(**arguments, metric_direction="up")
    with pytest.raises(ValueError, match="review page is generated"):
        ApproveModelVersionOperator(**arguments, body="my page")


def view(version: str, **fields: Any) -> VersionView:
    return VersionView(
        version=version,
        source=f"models:/m-{version}",
        run_id=f"run{version}",
        run_name=f"run-{version}",
        registered_at="2026-12-05T10:00:00+00:00",
        **fields,
    )


def test_review_page_compares_metrics_params_and_tags_and_escapes_registry_text() -> None:
    candidate = view(
        "7",
        version_url="http://mlflow/#/models/m/versions/7",
        metrics={"accuracy": 0.93, "loss": 0.2},
        params={"C": "0.5", "max_iter": "100"},
        tags={"note": "see [here](http://evil) | ![x](y)"},
        lineage={"dag_id": "train", "run_id": "r1", "task_id": "register"},
    )
    current = view("5", metrics={"accuracy": 0.91}, params={"C": "1.0", "max_iter": "100"})
    page = review_page(
        "churn", "champion", candidate, current, airflow_run_url="http://airflow/dags/d/runs/r"
    )
    assert "| accuracy | 0.93 | 0.91 | +0.02 |" in page
    assert "| loss | 0.2 | — | — |" in page
    assert "| C | 0\\.5 | 1\\.0 |" in page and "max\\_iter" not in page  # only what differs
    assert "\\[here\\]\\(http\\:\u200b//evil\\) \\| \\!\\[x\\]\\(y\\)" in page  # no link/image
    assert "DAG `train`, run `r1`, task `register`" in page
    assert "[This Airflow run](http://airflow/dags/d/runs/r)" in page
    assert "Current champion (version 5)" in page and "First promotion" not in page


#: Lineage and tags a registry user wrote to dress up a candidate (issue 26, item 4).
HOSTILE_LINEAGE = {
    "dag_id": "train\n\n**Security review: PASSED** ![](https://attacker.example/px.gif)",
    "run_id": "r1",
    "task_id": "register",
    "run_link": "https://attacker.example/task",
}
HOSTILE_NOTE = (
    "# Approved\n> by security https://attacker.example/x www.attacker.example a@b.example"
)


def test_review_page_makes_no_markup_from_registry_text_and_links_only_to_its_servers() -> None:
    candidate = view(
        "7",
        version_url="http://mlflow:5000/#/models/m/versions/7",
        lineage=HOSTILE_LINEAGE,
        tags={"note": HOSTILE_NOTE},
    )
    airflow_run = "http://airflow:8080/dags/d/runs/r"
    page = review_page("churn", "champion", candidate, None, airflow_run_url=airflow_run)
    rows = [line for line in page.splitlines() if "attacker" in line]
    # All registry text stays inside single table rows: no paragraph, heading or quote of its own.
    assert rows and all(line.startswith("| ") for line in rows), rows
    assert "**Security" not in page and "![" not in page and "](https://attacker" not in page
    # GFM autolinks bare URLs and e-mail addresses in the text left after escapes are
    # resolved (the Airflow UI did, in Chromium): none may be left there.
    text = re.sub(r"\\(.)", r"\1", re.sub(r"\]\([^)]*\)", "]", page))  # link targets aside
    assert not re.search(r"(?i)(https?://|www\.)[-.\w]+", text), text
    assert not re.search(r"[-.\w+]+@[-\w]+(\.[-\w]+)+", text), text
    assert "\\# Approved \\> by security" in page
    # Links: only to the MLflow server the hook names and to the Airflow UI.
    targets = re.findall(r"\]\(([^)]*)\)", page)
    assert targets and all(
        t.startswith(("http://mlflow:5000/", "http://airflow:8080/")) for t in targets
    )
    own = {
        **HOSTILE_LINEAGE,
        "dag_id": "train",
        "run_link": "http://airflow:8080/dags/train/runs/x (y)",
    }
    page = review_page(
        "churn", "champion", view("7", lineage=own), None, airflow_run_url=airflow_run
    )
    assert "[task in Airflow](http://airflow:8080/dags/train/runs/x%20%28y%29)" in page


def test_review_page_of_a_first_promotion_says_so_and_shows_the_candidate_alone() -> None:
    page = review_page("churn", "champion", view("1", metrics={"accuracy": 0.9}), None)
    assert "**First promotion:** champion does not point at any version yet" in page
    assert "| Metric | Candidate (version 1) |" in page and "Difference" not in page


SIGNER = RecordSigner("s" * 40)


def approved_record(key: str, **fields: Any) -> ApprovalRecord:
    values: dict[str, Any] = {
        "model_name": "m",
        "version": "2",
        "status": "approved",
        "decided_by": "reviewer",
        "decided_at": "2026-12-05T10:00:00+00:00",
        "comment": "ok",
        "dag_run": "dag/run",
        "alias": "champion",
        "previous_version": "1",
        "key": key,
        **fields,
    }
    return ApprovalRecord(**values)


def test_approval_key_is_keyed_and_names_one_task_instance() -> None:
    key = approval_key(SIGNER, "m", "champion", "dag", "run", "task", -1)
    assert key == approval_key(SIGNER, "m", "champion", "dag", "run", "task", -1)
    assert key != approval_key(SIGNER, "m", "champion", "dag", "run2", "task", -1)
    assert key != approval_key(SIGNER, "m", "staging", "dag", "run", "task", -1)
    # Unpredictable without the secret: another secret, or the plain digest, gives another key.
    assert key != approval_key(RecordSigner("t" * 40), "m", "champion", "dag", "run", "task", -1)
    plain = hashlib.sha256("\x1f".join(["m", "champion", "dag", "run", "task", "-1"]).encode())
    assert key != plain.hexdigest()


def test_a_signed_record_is_taken_only_for_its_own_version_alias_and_key(
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = approval_key(SIGNER, "m", "champion", "dag", "run", "task", -1)
    record = approved_record(key)
    tags = record.as_tags(SIGNER)
    assert list(tags)[-1] == "airflow.approval.key"  # written last
    assert ApprovalRecord.from_tags("m", "2", tags, key, SIGNER) == record
    other_key = approval_key(SIGNER, "m", "x", "d", "r", "t", -1)
    assert ApprovalRecord.from_tags("m", "2", tags, other_key, SIGNER) is None
    assert not caplog.records  # another task instance's record: not ours, nothing to flag
    # Copied to another version, or with any field changed, the signature fails: tampered.
    assert ApprovalRecord.from_tags("m", "3", tags, key, SIGNER) is None
    for tag, value in [
        ("airflow.approval.alias", "staging"),
        ("airflow.approval.approved_by", "alice"),
        ("airflow.approval.previous_version", "5"),
        ("airflow.approval.status", "rejected"),
    ]:
        assert ApprovalRecord.from_tags("m", "2", {**tags, tag: value}, key, SIGNER) is None
    forged = {k: v for k, v in tags.items() if k != SIGNATURE_TAG}
    assert ApprovalRecord.from_tags("m", "2", forged, key, SIGNER) is None
    other = RecordSigner("t" * 40)
    assert ApprovalRecord.from_tags("m", "2", record.as_tags(other), key, SIGNER) is None
    tampered = [r.getMessage() for r in caplog.records if "tampered" in r.getMessage()]
    assert len(tampered) == 6, caplog.text
    assert "unverifiable" in caplog.records[-1].getMessage()
    for status in (PENDING, EXPIRED):
        pending = approved_record(key, status=status)
        taken = ApprovalRecord.from_tags("m", "2", pending.as_tags(SIGNER), key, SIGNER)
        assert taken == pending and not taken.final


def test_signatures_fail_for_changed_records_and_tell_other_secrets_apart() -> None:
    record = {"a": "1", "b": None}
    signature = SIGNER.sign(record)
    assert SIGNER.check(record, signature) is SignatureCheck.VALID
    assert SIGNER.check({"a": "2", "b": None}, signature) is SignatureCheck.INVALID
    assert SIGNER.check(record, None) is SignatureCheck.INVALID
    assert SIGNER.check(record, "v1:" + SIGNER.key_id + ":²") is SignatureCheck.INVALID
    assert RecordSigner("t" * 40).check(record, signature) is SignatureCheck.OTHER_KEY
    with pytest.raises(ValueError, match="mlflow_registry_signing_secret"):
        RecordSigner("short")
    assert "s" * 40 not in repr(SIGNER)


def test_policy_counts_distinct_signed_approvals_and_names_the_rule_that_refuses() -> None:
    from airflow_mlflow_registry.approval_policy import (
        SIGNATURE_FIELD,
        ApprovalPolicy,
        verified_upstream_approvals,
    )
    from airflow_mlflow_registry.exceptions import ApprovalPolicyError

    def upstream(task_id: str, person: str, **fields: Any) -> dict[str, Any]:
        key = approval_key(SIGNER, "m", "champion", "dag", "run", task_id, -1)
        record = approved_record(key, decided_by=person, dag_run="dag/run", **fields)
        return {
            "model_name": "m",
            "version": record.version,
            "alias": "champion",
            "previous_version": record.previous_version,
            "decision": record.status,
            "decided_by": person,
            "decided_at": record.decided_at,
            "comment": record.comment,
            SIGNATURE_FIELD: record.signature(SIGNER),
        }

    edited = {**upstream("approve_0", "mallory"), "decided_by": "bob"}
    pulled = {
        "approve_1": upstream("approve_1", "alice"),
        "approve_0": edited,  # changed in XCom: its signature fails, it does not count
        "approve_x": upstream("approve_x", "carol", version="9"),  # another candidate
        "skipped": None,
    }
    earlier = verified_upstream_approvals(pulled, dag_id="dag", run_id="run", signer=SIGNER)
    assert [task for task, _ in earlier] == ["approve_1", "approve_x"]
    this_key = approval_key(SIGNER, "m", "champion", "dag", "run", "approve_2", -1)
    policy = ApprovalPolicy(required_approvals=2, exclude_triggering_user=True)
    bob = approved_record(this_key, decided_by="bob", dag_run="dag/run")
    assert policy.approvers(bob, earlier, triggering_user="dave") == ["alice", "bob"]
    alice = approved_record(this_key, decided_by="alice", dag_run="dag/run")
    with pytest.raises(ApprovalPolicyError, match=r"required_approvals=2 .* alice already"):
        policy.approvers(alice, earlier, triggering_user=None)
    with pytest.raises(ApprovalPolicyError, match=r"exclude_triggering_user .* bob triggered"):
        policy.approvers(bob, earlier, triggering_user="bob")
    assert ApprovalPolicy().approvers(bob, [], triggering_user="bob") == ["bob"]
    for wrong in (0, 11, True, "2"):
        with pytest.raises(ValueError, match="required_approvals"):
            ApprovalPolicy(required_approvals=wrong)  # type: ignore[arg-type]
