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


"""``aliases history`` and ``aliases rollback`` against a real server, through ``cli.main``: the
ledger as a table and as JSON with every entry's signature status (forged ones flagged), what
history says without the signing secret, and a rollback recorded with the command line's user
(or refused without the secret)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook
from tests.support.airflow_env import SIGNING_SECRET
from tests.support.cli import run_cli, run_cli_in_process
from tests.support.ledger import forge_entry, promoted
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

SECRET_VARIABLE = "AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET"


# In the end-to-end tier (.ci/e2e-tests.sh): these server-bound tests would put the default
# suite over its 8-minute budget.
pytestmark = pytest.mark.e2e


def test_history_prints_every_entry_with_its_status_and_flags_the_forged_one(
    cli_env: dict[str, str], default_registry: MlflowClient
) -> None:
    hook = MlflowRegistryHook()
    model = promoted(default_registry, hook, 2, extra=1, prefix="cli-history")
    hook.set_model_version_alias(model, "staging", "3")
    forge_entry(default_registry, model, "champion", "2", "3", at=time.time_ns() // 1_000_000)

    table, as_json, one_alias = run_cli_in_process(
        cli_env,
        ["aliases", "history", model],
        ["aliases", "history", model, "champion", "--json"],
        ["aliases", "history", model, "staging"],
    )
    assert table.code == as_json.code == one_alias.code == 0, (table, as_json, one_alias)
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["WHEN", "(UTC)", "ALIAS"]
    entry_rows = rows[: rows.index("")]
    assert len(entry_rows) == 4
    assert sum("!! tampered" in row for row in entry_rows) == 1
    assert sum(" verified " in f"{row} " for row in entry_rows) == 3
    forged_row = next(row for row in entry_rows if "!! tampered" in row)
    assert " alice " in forged_row
    assert "1 of 4 entries of model" in table.stdout and "decide nothing" in table.stdout

    report = as_json.json()
    assert report["verifiable"] is True and report["alias"] == "champion"
    assert [(e["from_version"], e["to_version"], e["status"]) for e in report["entries"]] == [
        (None, "1", "verified"),
        ("1", "2", "verified"),
        ("2", "3", "tampered"),
    ]
    assert all(e["kind"] == "set_alias" for e in report["entries"])
    assert report["entries"][0]["by"].startswith("cli:")
    assert [line.split()[2] for line in one_alias.stdout.splitlines()[1:]] == ["staging"]


def test_history_without_the_secret_says_nothing_can_be_verified(
    cli_env: dict[str, str], default_registry: MlflowClient
) -> None:
    model = unique("cli-unverifiable")
    add_version(default_registry, model)
    MlflowRegistryHook().set_model_version_alias(model, "champion", "1")
    env = {k: v for k, v in cli_env.items() if k != SECRET_VARIABLE}
    table, as_json = run_cli_in_process(
        env, ["aliases", "history", model], ["aliases", "history", model, "--json"]
    )
    assert table.code == as_json.code == 0, (table, as_json)
    assert "no entry can be verified" in table.stdout and SECRET_VARIABLE in table.stdout
    assert "!! unsigned" in table.stdout
    report = as_json.json()
    assert report["verifiable"] is False
    assert [e["status"] for e in report["entries"]] == ["unsigned"]


def test_rollback_moves_back_and_records_the_cli_user_or_is_refused_without_the_secret(
    cli_env: dict[str, str], default_registry: MlflowClient
) -> None:
    model = promoted(default_registry, MlflowRegistryHook(), 2, prefix="cli-rollback")
    no_secret = {k: v for k, v in cli_env.items() if k != SECRET_VARIABLE}

    (refused,) = run_cli_in_process(no_secret, ["aliases", "rollback", model, "champion"])
    assert refused.code == 1, refused
    (line,) = refused.stderr_lines
    assert "Rollback refused" in line and "mlflow_registry_signing_secret" in line
    assert SECRET_VARIABLE in line and SIGNING_SECRET not in refused.stderr
    assert default_registry.get_model_version_by_alias(model, "champion").version == "2"

    rolled, again_refused = run_cli_in_process(
        cli_env,
        ["aliases", "rollback", model, "champion", "--reason", "INC-42", "--json"],
        ["aliases", "rollback", model, "champion", "--steps", "5"],
    )
    assert rolled.code == 0, rolled
    record = rolled.json()
    assert (record["version"], record["previous_version"], record["steps"]) == ("1", "2", 1)
    entry = record["ledger_entry"]
    assert (entry["kind"], entry["status"], entry["why"]["reason"]) == (
        "rollback",
        "verified",
        "INC-42",
    )
    assert entry["by"].startswith("cli:")
    assert default_registry.get_model_version_by_alias(model, "champion").version == "1"
    assert again_refused.code == 1 and "rule: the target must be a holder" in again_refused.stderr


def test_the_console_script_reads_the_secret_from_its_environment_and_rolls_back(
    cli_env: dict[str, str], default_registry: MlflowClient
) -> None:
    """A real process of the command line, its connection from ``AIRFLOW_CONN_*`` (standalone
    mode): the signing secret comes from ``AIRFLOW_VAR_MLFLOW_REGISTRY_SIGNING_SECRET``, the
    history verifies and the rollback lands, and the secret is printed nowhere."""
    model = promoted(default_registry, MlflowRegistryHook(), 2, prefix="cli-process")
    source = default_registry.get_model_version(model, "1").source
    (rolled,) = run_cli(cli_env, ["aliases", "rollback", model, "champion", "--json"])
    history, registered = run_cli(
        cli_env,
        ["aliases", "history", model, "champion", "--json"],
        ["register-version", model, "--model-uri", source, "--alias", "staging", "--json"],
    )  # fmt: skip
    for result in (rolled, history, registered):
        assert result.code == 0, result
        assert SIGNING_SECRET not in result.stdout + result.stderr
    assert rolled.json()["version"] == "1"
    # A registration that moves an alias signs its entry too; stdout stays JSON.
    assert registered.json()["aliases"] == ["staging"]
    report = history.json()
    assert report["verifiable"] is True
    assert [(e["kind"], e["status"]) for e in report["entries"]] == [
        ("set_alias", "verified"),
        ("set_alias", "verified"),
        ("rollback", "verified"),
    ]
