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

"""Reclaim tally: retention with ``delete_artifacts`` runs round after round on one model while
two threads register versions of it, each from a fresh logged model, or reusing the current
shared one, or reusing one of the older half of the logged models made so far (often one whose
versions retention has deleted, so one it is reclaiming or has reclaimed: such a registration
is refused, by the server or by the hook's check; a refused shared model is replaced by a new
one). At the end
one more retention run finishes any pending work, and:

- every live version's files are downloaded through the connection and compared with what was
  logged (``live_files_missing``: none may be missing or different);
- every logged model that a deleted version used and no live version uses has no object left
  in the bucket (``orphans_left``), listed with the S3 API directly;
- the rounds during which a registration was in flight (``rounds_overlapping``) show that the
  work overlapped.
"""

from __future__ import annotations

import random
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.exceptions import LoggedModelReclaimedError, MlflowRequestError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.retention import RetentionRule
from tests.hooks.test_artifact_reclaim import BUCKET, keys_of, log_model
from tests.support.copies import copied_files
from tests.support.model_versions import unique
from tests.support.s3_server import proxied_s3_mlflow_server
from tests.support.tallies import publish_tally, run_collecting_errors

if TYPE_CHECKING:
    from pathlib import Path

    from tests.conftest import UseConnection

# Two registering threads beside retention rounds, an MLflow server and an S3 endpoint: 31 to
# 103 s measured, depending on the load of the two-core machine; kept out of the default suite.
pytestmark = [pytest.mark.e2e, pytest.mark.reliability, pytest.mark.timeout(900)]

REGISTRATIONS_PER_THREAD = 20
REUSE_SHARED = 0.3
REUSE_ANY = 0.3
KEEP_LATEST = 2


def test_reclaim_never_deletes_live_files_and_leaves_no_orphan(
    tmp_path: Path, use_connection: UseConnection, summary_lines: list[str]
) -> None:
    with proxied_s3_mlflow_server(tmp_path / "servers", BUCKET) as s3:
        assert s3.mlflow is not None
        use_connection("reclaim_tally", s3.mlflow.url, max_retries=0)
        setup = MlflowRegistryHook(mlflow_conn_id="reclaim_tally")
        client = setup.get_conn()
        experiment = client.create_experiment(unique("reclaim-tally"))
        model = unique("reclaim-tally")
        client.create_registered_model(model)
        lock = threading.Lock()
        shared = [log_model(setup, experiment, tmp_path, 2048)]
        contents: dict[str, dict[str, bytes]] = {}
        spans: list[tuple[float, float]] = []
        counts = {"registered": 0, "reused": 0, "refused": 0, "refused_by_hook": 0}
        done = threading.Event()

        def remember(model_id: str) -> None:
            local = tmp_path / model_id
            contents[model_id] = {f.name: f.read_bytes() for f in local.iterdir()}

        remember(shared[0])

        def registrar(seed: int) -> None:
            hook = MlflowRegistryHook(mlflow_conn_id="reclaim_tally")
            rng = random.Random(seed)
            for _ in range(REGISTRATIONS_PER_THREAD):
                draw = rng.random()
                with lock:
                    # Reuse the current shared logged model, or any logged model made so far
                    # (likely one whose versions retention deleted: an orphan being reclaimed).
                    if draw < REUSE_SHARED:
                        model_id = shared[-1]
                    elif draw < REUSE_SHARED + REUSE_ANY:
                        made = list(contents)  # oldest first: the likeliest to be reclaimed
                        model_id = rng.choice(made[: max(1, len(made) // 2)])
                    else:
                        model_id = None
                reuse = model_id is not None
                if model_id is None:
                    model_id = log_model(hook, experiment, tmp_path, 2048)
                    with lock:
                        remember(model_id)
                start = time.monotonic()
                try:
                    hook.register_model_version(model, f"models:/{model_id}")
                except (LoggedModelReclaimedError, MlflowRequestError) as exc:
                    assert reuse, f"a fresh logged model {model_id} was refused: {exc}"
                    with lock:
                        counts["refused"] += 1
                        counts["refused_by_hook"] += isinstance(exc, LoggedModelReclaimedError)
                    if model_id == shared[-1]:
                        fresh = log_model(hook, experiment, tmp_path, 2048)
                        with lock:
                            remember(fresh)
                            shared.append(fresh)
                    continue
                finally:
                    with lock:
                        spans.append((start, time.monotonic()))
                with lock:
                    counts["registered"] += 1
                    counts["reused"] += reuse

        records: list[tuple[tuple[float, float], dict[str, Any]]] = []
        rule = RetentionRule.of(keep_latest=KEEP_LATEST)

        def retention() -> None:
            hook = MlflowRegistryHook(mlflow_conn_id="reclaim_tally")
            while not done.is_set():
                start = time.monotonic()
                record = hook.delete_expired_versions(model, rule, delete_artifacts=True)
                records.append(((start, time.monotonic()), record))

        def registrars() -> None:
            try:
                assert run_collecting_errors([lambda: registrar(1), lambda: registrar(2)]) == []
            finally:
                done.set()

        errors = run_collecting_errors([registrars, retention])
        assert errors == []
        start = time.monotonic()
        final = setup.delete_expired_versions(model, rule, delete_artifacts=True)
        records.append(((start, time.monotonic()), final))

        live = client.search_model_versions(f"name='{model}'")
        missing = 0
        for mv in live:
            model_id = mv.source[len("models:/") :]
            files = copied_files(setup, {"source": mv.source}, tmp_path)
            missing += files != contents[model_id]
        live_ids = {mv.source[len("models:/") :] for mv in live}
        deleted = [e for _, record in records for e in record["deleted"]]
        used_by_deleted = {e["source"][len("models:/") :] for e in deleted}
        orphans = used_by_deleted - live_ids
        orphans_left = sum(bool(keys_of(s3, model_id)) for model_id in orphans)
        reclaimed = [e for _, record in records for e in record["artifacts_reclaimed"]]
        failed = [e for _, record in records for e in record["artifacts_failed"]]
        overlapping = sum(
            any(s[0] <= run[1] and run[0] <= s[1] for s in spans) for run, _ in records
        )

    tally_line = (
        f"reclaim tally: rounds={len(records)} registrations={counts['registered']} "
        f"reused={counts['reused']} refused={counts['refused']} "
        f"(by_hook_check={counts['refused_by_hook']}) "
        f"deleted_versions={len(deleted)} reclaimed_models={len(reclaimed)} "
        f"bytes_reclaimed={sum(e['bytes'] for e in reclaimed)} failed_then_retried={len(failed)} "
        f"live_versions={len(live)} rounds_overlapping={overlapping} "
        f"live_files_missing={missing} orphans_left={orphans_left}"
    )
    publish_tally(summary_lines, tally_line)
    assert (missing, orphans_left) == (0, 0)
    assert final["artifacts_failed"] == []
    assert overlapping > 1
    assert len(reclaimed) >= len(orphans) > 0
