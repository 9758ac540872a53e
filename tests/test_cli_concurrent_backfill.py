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

"""`airflow-mlflow-registry backfill --concurrency N` against a real `mlflow server`: each run
registered exactly once with several registrations in flight, the report in run order, the
alias on the newest run, and an interrupted backfill (Ctrl-C, or SIGKILL) completed by a re-run
that registers only the runs still missing. Versions are counted on the server, per run.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import pendulum
import pytest

from airflow_mlflow_registry.hooks.backfill import run_registration_key
from airflow_mlflow_registry.hooks.registration import SOURCE_URI_TAG
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.bearer_proxy import ForwardingProxy
from tests.support.cli import (
    CLI_TIMEOUT_SECONDS,
    CliResult,
    backfill_counts,
    kill_all,
    run_cli,
    run_cli_in_process,
    start_cli,
)
from tests.support.gate_proxy import (
    CREATE_VERSION,
    DELETE_VERSION,
    HOLD_TIMEOUT_SECONDS,
    SEARCH_VERSIONS,
    GateProxy,
    barrier_wait,
    intersect,
    span,
)
from tests.support.model_versions import seed_run, unique, versions_by_run

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable

    from mlflow import MlflowClient

    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer


DAY = pendulum.datetime(2026, 5, 1, tz="UTC")
WINDOW = ["--from", "2026-05-01", "--to", "2026-05-02"]
# A held request must outlast its hold: the connection's read timeout is longer.
HELD_SECONDS = HOLD_TIMEOUT_SECONDS + 30
CREATE_MODEL = ("POST", "/registered-models/create")


def finish(process: subprocess.Popen[str]) -> CliResult:
    """Wait for the CLI ``process`` (see ``start_cli``); its result."""
    stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
    return CliResult(process.returncode, stdout, stderr)


def seed_runs(client: MlflowClient, experiment: str, count: int) -> list[str]:
    """``count`` runs of a new ``experiment``, a minute apart on ``DAY``, each with a logged
    model; their ids, oldest first."""
    experiment_id = client.create_experiment(experiment)
    return [seed_run(client, experiment_id, DAY.add(minutes=i)) for i in range(count)]


def version_counts(client: MlflowClient, model: str, runs: list[str]) -> dict[str, int]:
    """Versions of ``model`` on the server per run of ``runs`` (0 for none)."""
    found = (
        versions_by_run(client, model)
        if client.search_registered_models(filter_string=f"name = '{model}'")
        else {}
    )
    return {run_id: len(found.get(run_id, [])) for run_id in runs}


def test_concurrent_backfill_registers_each_run_once_reports_in_run_order_aliases_the_newest(
    cli_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """Eight registrations at a time on a model that does not exist yet (the first run creates
    it); one run already has a version. The report lists the runs oldest first and `staging`
    ends on the newest run's version, whatever order the registrations finished in."""
    model, experiment = unique("concurrent"), unique("training")
    runs = seed_runs(plain_client, experiment, 24)
    command = ["backfill", model, "--experiment", experiment, *WINDOW, "--alias", "staging"]

    (done,) = run_cli_in_process(cli_env, [*command, "--concurrency", "8", "--json"])
    assert done.code == 0, done
    report = done.json()
    assert report["counts"] == backfill_counts(registered=24)
    assert [row["run_id"] for row in report["runs"]] == runs
    assert version_counts(plain_client, model, runs) == dict.fromkeys(runs, 1)
    versions = versions_by_run(plain_client, model)
    for run_id in runs:
        (version,) = versions[run_id]
        assert version.tags[REGISTRATION_KEY_TAG] == run_registration_key(model, run_id)
    rows = {row["run_id"]: row["version"] for row in report["runs"]}
    assert rows == {run_id: versions[run_id][0].version for run_id in runs}
    newest = plain_client.get_model_version_by_alias(model, "staging")
    assert newest.run_id == runs[-1]
    assert report["aliases"][0]["version"] == newest.version

    # Two more runs, the newer one already registered by hand and `staging` moved away.
    experiment_id = report["experiment_id"]
    older, newer = (seed_run(plain_client, experiment_id, DAY.add(hours=h)) for h in (2, 3))
    by_hand = plain_client.create_model_version(model, f"runs:/{newer}/model", run_id=newer)
    plain_client.set_registered_model_alias(model, "staging", "1")
    (again,) = run_cli_in_process(cli_env, [*command, "--concurrency", "32", "--json"])
    assert again.code == 0, again
    counts = again.json()["counts"]
    assert (counts["registered"], counts["already_registered"]) == (1, 25)
    assert version_counts(plain_client, model, [*runs, older, newer]) == dict.fromkeys(
        [*runs, older, newer], 1
    )
    assert plain_client.get_model_version_by_alias(model, "staging").version == by_hand.version


def test_two_backfills_of_the_same_window_at_once_leave_one_version_per_run(
    mlflow_server: MlflowServer, airflow_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """Two backfill processes of one model and window at concurrency 8, each through its own
    proxy, which holds its first version search until both sent theirs: both find no version
    and create one for every run, and their recorded create windows intersect. Afterwards each
    run has exactly one version (the lowest; a duplicate is deleted), both reports name it,
    and `staging` is on the newest run's."""
    model, experiment = unique("twice"), unique("training")
    runs = seed_runs(plain_client, experiment, 40)
    both_searched = threading.Barrier(2)
    env = dict(airflow_env)
    proxies = [GateProxy(mlflow_server.url) for _ in range(2)]
    for i, proxy in enumerate(proxies):
        proxy.hold(SEARCH_VERSIONS, [1], barrier_wait(both_searched))
        env[connection_env_var(f"via_{i}")] = connection_json(proxy.url)
        proxy.start()
    command = ["backfill", model, "--experiment", experiment, *WINDOW, "--alias", "staging"]
    try:
        first, second = run_cli(
            env,
            *(
                [*command, "--concurrency", "8", "--json", "--conn-id", f"via_{i}"]
                for i in range(2)
            ),
        )
    finally:
        for proxy in proxies:
            proxy.stop()
    creates = [span(proxy.windows(CREATE_VERSION)) for proxy in proxies]
    assert intersect(*creates), creates
    assert (first.code, second.code) == (0, 0), (first, second)
    # Each backfill sent a create for every run, plus one more when its first create found no
    # model yet (it then created the model, or found it created by the other, and sent again).
    for proxy in proxies:
        model_creates = len(proxy.windows(CREATE_MODEL))
        assert len(proxy.windows(CREATE_VERSION)) == len(runs) + model_creates
    assert sum(len(proxy.windows(CREATE_MODEL)) for proxy in proxies) >= 1
    assert version_counts(plain_client, model, runs) == dict.fromkeys(runs, 1)
    versions = {
        run_id: found[0].version for run_id, found in versions_by_run(plain_client, model).items()
    }
    reports = (first.json(), second.json())
    for report in reports:
        assert {row["run_id"]: row["version"] for row in report["runs"]} == versions
        assert report["aliases"][0]["version"] == versions[runs[-1]]
    # Each run is "registered" in exactly one report, "already_registered" in the other.
    outcomes = [{row["run_id"]: row["outcome"] for row in report["runs"]} for report in reports]
    for run_id in runs:
        assert sorted(outcome[run_id] for outcome in outcomes) == [
            "already_registered",
            "registered",
        ], run_id
    assert plain_client.get_model_version_by_alias(model, "staging").version == versions[runs[-1]]


@pytest.mark.e2e  # three CLI processes, two of them held while the third runs
def test_three_overlapping_backfills_every_row_names_a_live_version_and_aliases_one(
    mlflow_server: MlflowServer, airflow_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """Backfills A and B of one window both find no version (their first searches are held
    until both sent one), so both create a version of every run. Backfill C starts while A and
    B are still running (each is held at its settling search until C exits): C deletes the
    higher version of each run, A's or B's. Then A and B settle, and every row of all three
    reports names the run's one live version, `staging` is on the newest run's, and each run is
    `registered` in exactly one report. The proxies' recorded windows prove the overlap: A's
    and B's creates intersect, and C's deletes fall inside A's and B's held settling searches.
    """
    model, experiment = unique("overlap3"), unique("training")
    runs = seed_runs(plain_client, experiment, 6)
    both_searched = threading.Barrier(2)
    c_finished = threading.Event()
    settling = {name: threading.Event() for name in "ab"}
    proxies = {name: GateProxy(mlflow_server.url) for name in "abc"}
    env = dict(airflow_env)
    for name, proxy in proxies.items():
        env[connection_env_var(f"via_{name}")] = connection_json(proxy.url, timeout=HELD_SECONDS)
        proxy.start()

    def hold_settling(arrived: threading.Event) -> Callable[[], bool]:
        def wait() -> bool:
            arrived.set()
            return c_finished.wait(HOLD_TIMEOUT_SECONDS)

        return wait

    for name in "ab":
        proxies[name].hold(SEARCH_VERSIONS, [1], barrier_wait(both_searched))
        proxies[name].hold(SEARCH_VERSIONS, [2], hold_settling(settling[name]))
    command = ["backfill", model, "--experiment", experiment, *WINDOW, "--alias", "staging"]
    started = [
        start_cli(env, [*command, "--concurrency", "3", "--json", "--conn-id", f"via_{name}"])
        for name in "ab"
    ]
    try:
        for name in "ab":
            assert settling[name].wait(HELD_SECONDS), f"backfill {name} never settled"
        (c,) = run_cli(env, [*command, "--json", "--conn-id", "via_c"])
        c_finished.set()
        a, b = (finish(process) for process in started)
    finally:
        c_finished.set()
        kill_all(started)
        for proxy in proxies.values():
            proxy.stop()

    creates = {name: span(proxies[name].windows(CREATE_VERSION)) for name in "ab"}
    assert intersect(*creates.values()), creates
    c_deletes = span(proxies["c"].windows(DELETE_VERSION))
    for name in "ab":
        held = proxies[name].windows(SEARCH_VERSIONS)[1]
        assert held.start < c_deletes[0] and c_deletes[1] < held.end, (name, held, c_deletes)
    assert len(proxies["c"].windows(DELETE_VERSION)) == len(runs)

    assert [result.code for result in (a, b, c)] == [0, 0, 0], (a, b, c)
    live = versions_by_run(plain_client, model)
    assert {run_id: len(live.get(run_id, [])) for run_id in runs} == dict.fromkeys(runs, 1)
    versions = {run_id: live[run_id][0].version for run_id in runs}
    reports = [result.json() for result in (a, b, c)]
    for report in reports:
        assert report["stopped"] is None
        assert {row["run_id"]: row["version"] for row in report["runs"]} == versions
        assert report["aliases"][0]["version"] == versions[runs[-1]]
    for run_id in runs:
        outcomes = sorted(
            row["outcome"]
            for report in reports
            for row in report["runs"]
            if row["run_id"] == run_id
        )
        assert outcomes == ["already_registered", "already_registered", "registered"], run_id
    assert plain_client.get_model_version_by_alias(model, "staging").version == versions[runs[-1]]


def test_backfill_deletes_duplicates_an_overlapping_backfill_left_and_keeps_the_lowest(
    cli_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """A run with two versions carrying its backfill key (an overlapping backfill stopped
    before it settled) and a version by hand of another run: the next backfill deletes the
    higher keyed duplicate, reports the run with the lower one and leaves the other alone."""
    model, experiment = unique("leftover"), unique("training")
    runs = seed_runs(plain_client, experiment, 3)
    plain_client.create_registered_model(model)
    source = f"runs:/{runs[0]}/model"
    tags = {REGISTRATION_KEY_TAG: run_registration_key(model, runs[0]), SOURCE_URI_TAG: source}
    for _ in range(2):
        plain_client.create_model_version(model, source, run_id=runs[0], tags=tags)
    by_hand = [
        plain_client.create_model_version(model, f"runs:/{runs[1]}/model", run_id=runs[1])
        for _ in range(2)
    ]
    command = ["backfill", model, "--experiment", experiment, *WINDOW, "--json"]
    (done,) = run_cli_in_process(cli_env, command)
    assert done.code == 0, done
    rows = {row["run_id"]: (row["outcome"], row["version"]) for row in done.json()["runs"]}
    assert rows == {
        runs[0]: ("already_registered", "1"),
        runs[1]: ("already_registered", by_hand[0].version),
        runs[2]: ("registered", "5"),
    }
    versions = versions_by_run(plain_client, model)
    assert [mv.version for mv in versions[runs[0]]] == ["1"]
    assert sorted(mv.version for mv in versions[runs[1]]) == ["3", "4"]


def test_concurrency_outside_1_to_32_is_a_usage_error_naming_the_option(
    cli_env: dict[str, str],
) -> None:
    results = run_cli_in_process(
        cli_env,
        *(
            ["backfill", "m", "--experiment", "e", *WINDOW, "--concurrency", value]
            for value in ("0", "33", "many", "2.5")
        ),
    )
    for result in results:
        assert result.code == 2, result
        assert len(result.stderr_lines) == 1, result
        assert "argument --concurrency: --concurrency must be a whole number from 1 to 32" in (
            result.stderr
        ), result


def test_backfill_stopped_by_a_failed_request_still_prints_its_report(
    fault_proxy: FaultProxy, airflow_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """Pointing the alias is refused (403) after every run is registered: the command still
    prints the report (``stopped`` saying why, each row naming its live version, no alias
    pointed), then the error, and exits 1."""
    model, experiment = unique("stopped"), unique("training")
    runs = seed_runs(plain_client, experiment, 3)
    fault_proxy.add_fault("POST", "/registered-models/alias", "403_before_forward")
    env = {**airflow_env, connection_env_var("mlflow_default"): connection_json(fault_proxy.url)}
    command = ["backfill", model, "--experiment", experiment, *WINDOW, "--alias", "staging"]
    (done,) = run_cli_in_process(env, [*command, "--json"])
    assert done.code == 1, done
    assert done.stderr_lines[-1].startswith("error: Pointing alias 'staging'"), done.stderr
    report = done.json()
    assert report["stopped"] == done.stderr_lines[-1].removeprefix("error: "), report["stopped"]
    assert report["aliases"] == []
    live = {
        run_id: [mv.version for mv in found]
        for run_id, found in versions_by_run(plain_client, model).items()
    }
    assert {row["run_id"]: [row["version"]] for row in report["runs"]} == live
    assert [row["outcome"] for row in report["runs"]] == ["registered"] * len(runs)

    fault_proxy.add_fault("POST", "/registered-models/alias", "403_before_forward")
    (text,) = run_cli_in_process(env, command)
    assert text.code == 1, text
    assert "Stopped early (Pointing alias 'staging'" in text.stdout, text.stdout
    assert "already registered 3, failed 0, not started 0" in text.stdout, text.stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_interrupted_concurrent_backfill_rerun_registers_only_the_missing_runs(
    signum: signal.Signals,
    mlflow_server: MlflowServer,
    cli_env: dict[str, str],
    plain_client: MlflowClient,
) -> None:
    """The backfill process is interrupted once a few runs have versions; then each run has at
    most one version, and a re-run registers exactly the runs without one. Interrupted with
    Ctrl-C, it first prints its report of the runs it reached; killed, it cannot, and the
    versions are counted once the proxy has seen every request it forwarded answered (a
    create sent just before the kill is committed by then)."""
    model, experiment = unique("interrupted"), unique("training")
    runs = seed_runs(plain_client, experiment, 60)
    command = ["backfill", model, "--experiment", experiment, *WINDOW, "--concurrency", "4"]
    with GateProxy(mlflow_server.url) as proxy:
        env = {**cli_env, connection_env_var("mlflow_default"): connection_json(proxy.url)}
        process = start_cli(env, [*command, "--json"])
        try:
            deadline = time.monotonic() + CLI_TIMEOUT_SECONDS
            while sum(version_counts(plain_client, model, runs).values()) < 3:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "the backfill registered nothing"
                time.sleep(0.1)
            process.send_signal(signum)
            stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
        finally:
            kill_all([process])
        while proxy.in_flight:
            assert time.monotonic() < deadline, "a request to the server never finished"
            time.sleep(0.1)
    before = version_counts(plain_client, model, runs)
    registered_before = [run_id for run_id in runs if before[run_id]]
    assert set(before.values()) <= {0, 1}, before
    assert 3 <= len(registered_before) < len(runs), "the backfill was not interrupted midway"
    if signum == signal.SIGINT:
        assert process.returncode == 130, stderr
        assert stderr.splitlines()[-1] == "error: interrupted.", stderr
        assert "Traceback" not in stderr
        stopped = json.loads(stdout)
        assert stopped["stopped"] == "interrupted"
        live = versions_by_run(plain_client, model)
        reached = {row["run_id"]: row["version"] for row in stopped["runs"] if row["version"]}
        assert reached == {run_id: live[run_id][0].version for run_id in registered_before}
        assert stopped["counts"]["not_started"] == len(runs) - len(registered_before)
    else:
        assert process.returncode == -signal.SIGKILL

    (rerun,) = run_cli_in_process(cli_env, [*command, "--json"])
    assert rerun.code == 0, rerun
    report = rerun.json()
    outcomes = {row["run_id"]: row["outcome"] for row in report["runs"]}
    assert outcomes == {
        run_id: "already_registered" if run_id in registered_before else "registered"
        for run_id in runs
    }
    assert version_counts(plain_client, model, runs) == dict.fromkeys(runs, 1)


def test_backfill_sends_one_request_per_run_and_searches_runs_and_models_in_bulk(
    mlflow_server: MlflowServer, airflow_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """Each run to register costs its create; the runs are listed once, and their versions
    (before the creates, and again after them to settle overlaps) and logged models are
    searched once per 50 runs, not run by run."""
    model, experiment = unique("economy"), unique("training")
    runs = seed_runs(plain_client, experiment, 6)
    with ForwardingProxy(mlflow_server.url) as proxy:
        env = {**airflow_env, connection_env_var("mlflow_default"): connection_json(proxy.url)}
        command = ["backfill", model, "--experiment", experiment, *WINDOW, "--concurrency", "3"]
        (done,) = run_cli_in_process(env, [*command, "--json"])
        requests = list(proxy.requests_seen)
    seen = Counter(path.split("?")[0] for _, path in requests)
    assert done.code == 0, done
    report = done.json()
    assert report["counts"]["registered"] == len(runs)
    assert all(row["model_uri"].startswith("models:/m-") for row in report["runs"])
    api = "/api/2.0/mlflow"
    assert seen[f"{api}/runs/search"] == 1
    assert seen[f"{api}/logged-models/search"] == 1
    assert seen[f"{api}/model-versions/create"] == len(runs) + 1  # the first creates the model
    assert seen[f"{api}/registered-models/create"] == 1
    # The versions of the runs, before the creates and after them: both one `run_id IN`
    # search (one per 50 runs), no look-up run by run.
    version_searches = [
        parse_qs(urlsplit(path).query)["filter"][0]
        for _, path in requests
        if path.startswith(f"{api}/model-versions/search")
    ]
    quoted = ", ".join(f"'{run_id}'" for run_id in runs)
    assert version_searches == [f"name = '{model}' AND run_id IN ({quoted})"] * 2
