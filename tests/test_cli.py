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

"""The `airflow-mlflow-registry` command line against real `mlflow server` processes, with its
connection in `AIRFLOW_CONN_*` environment variables.

What a command does (records, tables, reports, exit codes, error lines) is checked through
`cli.main` in this process; what only a process shows (the console script and `python -m`,
Ctrl-C, the progress bar on a terminal, that no traceback reaches stderr with every import's
output) with real CLI processes (see `tests/support/cli.py`).
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pendulum
import pytest

from airflow_mlflow_registry import __version__
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.backfill import run_registration_key
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG
from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.cli import (
    CLI,
    CLI_TIMEOUT_SECONDS,
    CliResult,
    backfill_counts,
    kill_all,
    run_cli,
    run_cli_in_process,
    start_cli,
)
from tests.support.model_versions import seed_run, unique, versions_by_run

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mlflow import MlflowClient

    from tests.conftest import UseConnection
    from tests.support.fault_proxy import FaultProxy
    from tests.support.mlflow_server import MlflowServer
    from tests.support.silent_server import SilentServer

CREATE = "/model-versions/create"


def run_cli_with_terminal_stderr(env: dict[str, str], args: Sequence[str]) -> tuple[CliResult, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); return the result and
    everything written to the terminal."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(CLI), *args], stdout=subprocess.PIPE, stderr=terminal, text=True, env=env
    )
    os.close(terminal)
    chunks: list[bytes] = []

    def drain() -> None:  # the bar redraws often: read while it runs, or the child blocks
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        stdout, _ = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
    finally:
        kill_all([process])
        reader.join(timeout=10)
        os.close(controller)
    terminal_text = b"".join(chunks).decode(errors="replace")
    return CliResult(process.returncode, stdout, terminal_text), terminal_text


def iso_from_ms(timestamp_ms: int) -> str:
    """ISO-8601 UTC of an MLflow timestamp, exact to the millisecond."""
    whole = pendulum.from_timestamp(timestamp_ms // 1000, tz="UTC")
    return whole.add(microseconds=(timestamp_ms % 1000) * 1000).isoformat()


# ------------------------------------------------------------------ help and bad usage


def test_help_and_usage_errors_answer_without_importing_airflow_or_mlflow(
    airflow_env: dict[str, str],
) -> None:
    script = (
        "import sys\n"
        "from airflow_mlflow_registry.cli import main\n"
        "for argv, expected in ((['backfill', '--help'], 0), (['list-versions', 'm', "
        "'--tag', 'x'], 2)):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == expected, (argv, exit.code)\n"
        "    else:\n"
        "        raise AssertionError(argv)\n"
        "loaded = sorted(m for m in ('airflow', 'mlflow') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    in_process = subprocess.run(
        [sys.executable, "-c", script], env=airflow_env, capture_output=True, text=True
    )
    assert in_process.returncode == 0, in_process.stderr

    (help_result,) = run_cli(airflow_env, ["--help"])
    assert help_result.code == 0
    for command in ("register-version", "list-versions", "get-version", "backfill"):
        assert command in help_result.stdout

    module = subprocess.run(
        [sys.executable, "-m", "airflow_mlflow_registry", "--version"],
        capture_output=True,
        text=True,
        env=airflow_env,
        timeout=CLI_TIMEOUT_SECONDS,
    )
    assert module.returncode == 0
    assert module.stdout.strip() == f"airflow-mlflow-registry {__version__}"


def test_bad_usage_exits_2_with_one_error_line_and_no_traceback(
    cli_env: dict[str, str],
) -> None:
    secret = "broken-conn-secret-4242"
    env = {
        **cli_env,
        connection_env_var("broken"): connection_json(
            "ftp://mlflow.example.com", login="alice", password=secret
        ),
    }
    results = run_cli_in_process(
        env,
        ["list-versions", "m", "--no-such-option"],
        ["list-versions", "m", "--created-after", "2026-02-30"],
        ["list-versions", "m", "--tag", "team"],
        ["backfill", "m", "--experiment", "e", "--from", "2026-03-05", "--to", "2026-03-01"],
        ["get-version", "m", "1", "--conn-id", "not_defined_anywhere"],
        ["get-version", "m", "1", "--conn-id", "broken"],
        ["register-version", "m", "--model-uri", "runs:/only-a-run-id"],
        ["register-version", "m", "--model-uri", "s3://b/m", "--idempotency-key", "o'brien"],
    )
    expected_messages = [
        "unrecognized arguments: --no-such-option",
        "'2026-02-30' is not a date",
        "'team' is not KEY=VALUE",
        "is not before end",
        "connection 'not_defined_anywhere' is not defined: set AIRFLOW_CONN_NOT_DEFINED_ANYWHERE",
        "unsupported scheme 'ftp'",
        "needs a run id and an artifact path",
        "idempotency_key must be a non-empty string without single quotes",
    ]
    for result, message in zip(results, expected_messages, strict=True):
        assert result.code == 2, result
        assert result.stdout == "", result
        assert len(result.stderr_lines) == 1, result
        assert message in result.stderr, result
        assert "Traceback" not in result.stderr
    assert secret not in results[5].stderr


# ------------------------------------------------------------------ register, get, list


def test_register_get_and_list_versions_print_json_records_and_a_table(
    cli_env: dict[str, str], plain_client: MlflowClient, mlflow_server: MlflowServer
) -> None:
    model = unique("cli-model")
    experiment_id = plain_client.create_experiment(unique("cli-exp"))
    run_id = plain_client.create_run(experiment_id).info.run_id
    source = f"runs:/{run_id}/model"
    plain_client.create_registered_model(model)
    for team in ("ml", "ops", "ml"):  # versions 1, 2, 3
        plain_client.create_model_version(model, source, run_id=run_id, tags={"team": team})

    (registered,) = run_cli(
        cli_env,
        [
            "register-version", model, "--model-uri", source, "--description", "by hand",
            "--tag", "team=ml", "--tag", "stage=candidate", "--alias", "champion", "--json",
        ],
    )  # fmt: skip
    assert registered.code == 0, registered
    record = registered.json()
    assert record["version"] == "4"
    assert record["source"] == source and record["run_id"] == run_id
    assert record["tags"] == {"team": "ml", "stage": "candidate"}
    assert record["aliases"] == ["champion"]
    assert record["created"] is True
    assert record["lineage"] == {}  # outside a task: no lineage, no exactly-once key
    assert record["model_version_url"] == f"{mlflow_server.url}/#/models/{model}/versions/4"
    assert plain_client.get_model_version(model, "4").description == "by hand"
    assert plain_client.get_model_version_by_alias(model, "champion").version == "4"

    created_ms = {
        v.version: v.creation_timestamp
        for v in plain_client.search_model_versions(f"name='{model}'")
    }
    got, by_tag, by_alias, by_dates, table = run_cli_in_process(
        cli_env,
        ["get-version", model, "4", "--json"],
        ["list-versions", model, "--tag", "team=ml", "--limit", "2", "--json"],
        ["list-versions", model, "--alias", "champion", "--json"],
        [
            "list-versions", model, "--json",
            "--created-after", iso_from_ms(created_ms["2"]),
            "--created-before", iso_from_ms(created_ms["4"]),
        ],
        ["list-versions", model],
    )  # fmt: skip
    for result in (got, by_tag, by_alias, by_dates, table):
        assert result.code == 0, result
    assert got.json() == {**record, "created": False}
    assert [r["version"] for r in by_tag.json()] == ["4", "3"]
    assert all(r["tags"]["team"] == "ml" for r in by_tag.json())
    assert [(r["version"], r["aliases"]) for r in by_alias.json()] == [("4", ["champion"])]
    in_window = sorted(
        (v for v, ms in created_ms.items() if created_ms["2"] <= ms < created_ms["4"]),
        key=int,
        reverse=True,
    )
    assert "2" in in_window and "4" not in in_window
    assert [r["version"] for r in by_dates.json()] == in_window

    header, *rows = table.stdout.splitlines()
    assert header.split() == ["VERSION", "CREATED", "STATUS", "ALIASES", "RUN", "ID", "SOURCE"]
    assert [row.split()[0] for row in rows] == ["4", "3", "2", "1"]
    assert rows[0].split()[3] == "champion" and rows[1].split()[3] == "-"


def test_missing_model_or_version_exits_1_naming_both_and_an_empty_listing_exits_0(
    cli_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """``get-version`` of a model or version that does not exist fails (exit 1) with one line
    naming the model and version; a listing that matches nothing (a model without versions, or
    none at all) is an empty result, not an error."""
    model, missing = unique("cli-exists"), unique("cli-missing")
    plain_client.create_registered_model(model)
    plain_client.create_model_version(model, "s3://bucket/model")
    no_model, no_version, empty = run_cli_in_process(
        cli_env,
        ["get-version", missing, "1"],
        ["get-version", model, "9"],
        ["list-versions", missing],
    )
    for result, name, version in ((no_model, missing, "1"), (no_version, model, "9")):
        assert result.code == 1, result
        assert result.stdout == ""
        (line,) = result.stderr_lines
        assert line.startswith(f"error: Reading model '{name}' version {version} failed: "), line
        assert "RESOURCE_DOES_NOT_EXIST" in line, line
    assert (empty.code, empty.stdout, empty.stderr) == (
        0,
        f"No version of model '{missing}' matches.\n",
        "",
    )


def test_search_model_versions_reads_every_page_newest_first_with_aliases(
    mlflow_server: MlflowServer, use_connection: UseConnection, plain_client: MlflowClient
) -> None:
    use_connection("pages", mlflow_server.url)
    model = unique("paged")
    run_id = plain_client.create_run(plain_client.create_experiment(unique("exp"))).info.run_id
    plain_client.create_registered_model(model)
    for _ in range(5):
        plain_client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    plain_client.set_registered_model_alias(model, "prod", "2")
    hook = MlflowRegistryHook(mlflow_conn_id="pages")

    records = hook.search_model_versions(model, page_size=2)  # three pages
    assert [r["version"] for r in records] == ["5", "4", "3", "2", "1"]
    assert [r["aliases"] for r in records] == [[], [], [], ["prod"], []]
    limited = hook.search_model_versions(model, limit=3, page_size=2)
    assert [r["version"] for r in limited] == ["5", "4", "3"]


# ------------------------------------------------------------------ where the connection is read


def test_get_and_list_versions_with_an_environment_connection_never_import_airflow(
    cli_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """A connection in `AIRFLOW_CONN_*` is read without Airflow (standalone mode): the
    commands answer, and no `airflow` module is loaded in the process."""
    model = unique("no-airflow")
    run_id = plain_client.create_run(plain_client.create_experiment(unique("exp"))).info.run_id
    plain_client.create_registered_model(model)
    for _ in range(2):
        plain_client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    script = (
        "import contextlib, io, json, sys\n"
        "from airflow_mlflow_registry.cli import main\n"
        "outputs = []\n"
        f"for argv in (['get-version', {model!r}, '1', '--json'], "
        f"['list-versions', {model!r}, '--json']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        code = main(argv)\n"
        "    outputs.append((code, json.loads(out.getvalue())))\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'airflow')\n"
        "print(json.dumps({'outputs': outputs, 'airflow_modules': loaded}))\n"
    )
    process = subprocess.run(
        [sys.executable, "-c", script],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_SECONDS,
    )
    assert process.returncode == 0, process.stderr
    report = json.loads(process.stdout.splitlines()[-1])
    assert report["airflow_modules"] == []
    (got_code, got), (listed_code, listed) = report["outputs"]
    assert got_code == 0 and got["model_name"] == model and got["version"] == "1"
    assert got["run_id"] == run_id and got["created"] is False
    assert listed_code == 0 and [r["version"] for r in listed] == ["2", "1"]


@pytest.mark.usefixtures("airflow_db")
def test_a_connection_only_in_the_metadata_db_is_looked_up_through_airflow(
    airflow_env: dict[str, str], plain_client: MlflowClient, mlflow_server: MlflowServer
) -> None:
    """As `airflow connections get` finds it: no `AIRFLOW_CONN_*` variable, a DB row."""
    from airflow.models import Connection
    from airflow.utils.session import create_session

    model = unique("db-conn")
    run_id = plain_client.create_run(plain_client.create_experiment(unique("exp"))).info.run_id
    plain_client.create_registered_model(model)
    plain_client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    conn_id = unique("mlflow_db_only").replace("-", "_")
    with create_session() as session:
        session.add(Connection(conn_id=conn_id, conn_type="mlflow", host=mlflow_server.url))
    assert connection_env_var(conn_id) not in airflow_env

    (got,) = run_cli(airflow_env, ["get-version", model, "1", "--conn-id", conn_id, "--json"])
    assert got.code == 0, got
    assert got.json()["model_name"] == model and got.json()["run_id"] == run_id


# ------------------------------------------------------------------ backfill


def test_backfill_dry_run_registers_nothing_backfill_registers_each_run_once_and_again_nothing(
    cli_env: dict[str, str], plain_client: MlflowClient
) -> None:
    model, experiment = unique("backfilled"), unique("training")
    experiment_id = plain_client.create_experiment(experiment)
    day = pendulum.datetime(2026, 3, 2, tz="UTC")
    at_from = seed_run(plain_client, experiment_id, day)  # the window's first instant
    artifact_only = seed_run(
        plain_client, experiment_id, day.add(days=1, hours=12), logged_model=False
    )
    by_dag = seed_run(plain_client, experiment_id, day.add(days=1, hours=18))
    newest = seed_run(plain_client, experiment_id, day.add(days=2, hours=12))
    filtered_out = seed_run(plain_client, experiment_id, day.add(days=2, hours=13), accuracy=0.1)
    seed_run(plain_client, experiment_id, day.subtract(seconds=1))  # before --from
    seed_run(plain_client, experiment_id, day.add(days=3))  # at --to: excluded
    # A version registered before the backfill, e.g. by the DAG route, counts as done.
    plain_client.create_registered_model(model)
    plain_client.create_model_version(model, f"runs:/{by_dag}/model", run_id=by_dag)
    window = [
        "--experiment",
        experiment,
        "--to",
        "2026-03-05",
        "--filter",
        "metrics.accuracy > 0.5",
    ]

    (dry,) = run_cli_in_process(
        cli_env, ["backfill", model, "--from", "2026-03-02", *window, "--dry-run", "--json"]
    )
    assert dry.code == 0, dry
    report = dry.json()
    assert report["dry_run"] is True
    assert report["counts"] == backfill_counts(already_registered=1, would_register=3)
    assert [(r["run_id"], r["outcome"]) for r in report["runs"]] == [
        (at_from, "would_register"),
        (artifact_only, "would_register"),
        (by_dag, "already_registered"),
        (newest, "would_register"),
    ]
    uris = {r["run_id"]: r["model_uri"] for r in report["runs"]}
    assert uris[at_from].startswith("models:/m-")
    assert uris[artifact_only] == f"runs:/{artifact_only}/model"
    assert list(versions_by_run(plain_client, model)) == [by_dag]

    # The same window, with --from as an ISO datetime with an offset (= 2026-03-02T00:00Z).
    (done,) = run_cli_in_process(
        cli_env,
        [
            "backfill",
            model,
            "--from",
            "2026-03-02T01:00:00+01:00",
            *window,
            "--alias",
            "newest",
            "--json",
        ],
    )
    assert done.code == 0, done
    report = done.json()
    assert report["counts"] == backfill_counts(registered=3, already_registered=1)
    versions = versions_by_run(plain_client, model)
    assert sorted(versions) == sorted([at_from, artifact_only, by_dag, newest])
    assert filtered_out not in versions
    for run_id in (at_from, artifact_only, newest):
        (version,) = versions[run_id]
        assert version.source == uris[run_id]
        assert version.tags[REGISTRATION_KEY_TAG] == run_registration_key(model, run_id)
        assert version.tags["airflow.source_run_id"] == run_id
    assert plain_client.get_model_version_by_alias(model, "newest").run_id == newest

    again, terminal = run_cli_with_terminal_stderr(
        cli_env, ["backfill", model, "--from", "2026-03-02", *window]
    )
    assert again.code == 0, again
    assert "Nothing to register: all 4 runs" in again.stdout
    assert again.stdout.count("already registered") == 4
    assert "4/4" in terminal  # the progress bar, drawn on the terminal only
    assert "4/4" not in again.stdout
    assert sum(len(found) for found in versions_by_run(plain_client, model).values()) == 4


def test_backfill_alias_ends_on_the_newest_run_of_the_window_never_moving_back(
    cli_env: dict[str, str], plain_client: MlflowClient
) -> None:
    """The window's newest run was registered before, and `staging` points at it; the
    backfill registers the two older runs and leaves `staging` where it was, saying so."""
    model, experiment = unique("alias-back"), unique("training")
    experiment_id = plain_client.create_experiment(experiment)
    day = pendulum.datetime(2026, 4, 1, tz="UTC")
    older = [seed_run(plain_client, experiment_id, day.add(hours=hour)) for hour in (1, 2)]
    newest = seed_run(plain_client, experiment_id, day.add(hours=3))
    plain_client.create_registered_model(model)
    held = plain_client.create_model_version(model, f"runs:/{newest}/model", run_id=newest)
    plain_client.set_registered_model_alias(model, "staging", held.version)
    window = ["--experiment", experiment, "--from", "2026-04-01", "--to", "2026-04-02"]

    dry, done = run_cli_in_process(
        cli_env,
        ["backfill", model, *window, "--alias", "staging", "--dry-run"],
        ["backfill", model, *window, "--alias", "staging", "--json"],
    )
    assert dry.code == 0, dry
    assert (
        f"Alias 'staging' would point at version {held.version} of run {newest}, the newest "
        f"run of the window (now: version {held.version})." in dry.stdout
    )
    assert done.code == 0, done
    report = done.json()
    assert report["counts"]["registered"] == 2
    assert set(versions_by_run(plain_client, model)) == {*older, newest}
    assert report["aliases"] == [
        {
            "alias": "staging",
            "run_id": newest,
            "version": held.version,
            "previous_version": held.version,
        }
    ]
    assert plain_client.get_model_version_by_alias(model, "staging").run_id == newest
    # Pointed elsewhere, the alias is moved to the newest run's version, and the text says so.
    plain_client.set_registered_model_alias(model, "staging", "2")
    (again,) = run_cli_in_process(cli_env, ["backfill", model, *window, "--alias", "staging"])
    assert again.code == 0, again
    assert (
        f"Alias 'staging' now points at version {held.version} of run {newest}, the newest "
        "run of the window (before: version 2)." in again.stdout
    )
    assert plain_client.get_model_version_by_alias(model, "staging").run_id == newest


def test_backfill_with_a_failed_run_exits_1_and_a_rerun_registers_only_that_run(
    fault_proxy: FaultProxy, plain_client: MlflowClient, airflow_env: dict[str, str]
) -> None:
    env = {
        **airflow_env,
        connection_env_var("mlflow_default"): connection_json(
            fault_proxy.url, timeout=10, max_retries=0
        ),
    }
    model, experiment = unique("resumed"), unique("training")
    experiment_id = plain_client.create_experiment(experiment)
    start = pendulum.datetime(2026, 4, 1, 12, tz="UTC")
    runs = [seed_run(plain_client, experiment_id, start.add(days=i)) for i in range(3)]
    plain_client.create_registered_model(model)  # the faults aim at creates of its versions
    # First create: the server commits it but the reply is lost; the exactly-once key finds
    # it. Second create: never reaches the server; with no retries left, that run fails.
    # One registration at a time, so that the second create is the second run's.
    fault_proxy.add_fault("POST", CREATE, "503_after_forward")
    fault_proxy.add_fault("POST", CREATE, "503_before_forward")
    command = [
        "backfill", model, "--experiment", experiment,
        "--from", "2026-04-01", "--to", "2026-04-04", "--concurrency", "1", "--json",
    ]  # fmt: skip

    (partial,) = run_cli_in_process(env, command)
    assert partial.code == 1, partial
    assert fault_proxy.faults_injected == 2
    report = partial.json()
    assert report["counts"]["registered"] == 2 and report["counts"]["failed"] == 1
    assert [r["outcome"] for r in report["runs"]] == ["registered", "failed", "registered"]
    assert "503" in report["runs"][1]["error"]
    assert partial.stderr_lines[-1].startswith("error: 1 of 3 runs failed")
    assert "Traceback" not in partial.stderr

    (rerun,) = run_cli_in_process(env, command)
    assert rerun.code == 0, rerun
    assert [r["outcome"] for r in rerun.json()["runs"]] == [
        "already_registered",
        "registered",
        "already_registered",
    ]
    versions = versions_by_run(plain_client, model)
    assert {run_id: len(versions[run_id]) for run_id in runs} == dict.fromkeys(runs, 1)


# ------------------------------------------------------------------ failures


def test_sigint_exits_130_with_one_error_line(
    airflow_env: dict[str, str], silent_server: SilentServer
) -> None:
    """Ctrl-C while a request is in flight (to a server that never answers)."""
    env = {
        **airflow_env,
        connection_env_var("mlflow_default"): connection_json(
            silent_server.url, timeout=120, max_retries=0
        ),
    }
    # The silent server is shared by the session: wait for a connection of this CLI process.
    accepted_before = silent_server.connections_accepted
    process = start_cli(env, ["list-versions", "m"])
    try:
        deadline = time.monotonic() + CLI_TIMEOUT_SECONDS
        while silent_server.connections_accepted == accepted_before:  # request in flight
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the CLI never connected"
            time.sleep(0.2)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=CLI_TIMEOUT_SECONDS)
    finally:
        kill_all([process])
    assert process.returncode == 130, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == ["error: interrupted."]
    assert stdout == ""


def test_unreachable_server_exits_1_with_one_error_line_and_a_traceback_only_with_debug(
    unused_port: int, airflow_env: dict[str, str]
) -> None:
    env = {
        **airflow_env,
        connection_env_var("mlflow_default"): connection_json(
            f"http://127.0.0.1:{unused_port}", timeout=2, max_retries=0
        ),
    }
    listing, backfill, debug = run_cli_in_process(
        env,
        ["list-versions", "m"],
        ["backfill", "m", "--experiment", "e", "--from", "2026-01-01", "--to", "2026-01-02"],
        ["get-version", "m", "1", "--debug"],
    )
    for result in (listing, backfill, debug):
        assert result.code == 1, result
        assert result.stdout == ""
        assert "could not connect to the server" in result.stderr_lines[-1]
    for result in (listing, backfill):
        assert len(result.stderr_lines) == 1, result
        assert "Traceback" not in result.stderr
    assert "Traceback (most recent call last)" in debug.stderr


def test_wrong_password_exits_1_and_never_prints_the_password(
    auth_mlflow_server: MlflowServer, airflow_env: dict[str, str]
) -> None:
    wrong = "not-alices-password-7319"
    env = {
        **airflow_env,
        connection_env_var("mlflow_default"): connection_json(
            auth_mlflow_server.url, login="alice", password=wrong
        ),
    }
    # With --debug every logger writes: a real process, so that nothing printed escapes.
    (debug,) = run_cli(env, ["list-versions", "m", "--debug"])
    (plain,) = run_cli_in_process(env, ["list-versions", "m"])
    for result in (plain, debug):
        assert result.code == 1, result
        assert "authentication failed (HTTP 401)" in result.stderr_lines[-1]
        assert wrong not in result.stdout + result.stderr
    assert len(plain.stderr_lines) == 1
