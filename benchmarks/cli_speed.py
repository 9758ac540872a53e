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

"""How long ``airflow-mlflow-registry list-versions`` and ``get-version`` take, side by side with
a plain Python script doing the same with ``MlflowClient``.

Starts a local ``mlflow server``, registers a model with 2 versions and an alias, then runs
fresh processes, interleaved round by round (in a new random order each round), of:

- ``plain list``: a script that imports ``mlflow.MlflowClient``, searches the model's versions
  newest first and reads the model's aliases (the two requests ``list-versions`` sends), and
  prints them;
- ``cli list``: ``airflow-mlflow-registry list-versions NAME --json``, its connection in
  ``AIRFLOW_CONN_MLFLOW_DEFAULT`` (read without Airflow);
- ``plain get`` / ``cli get``: one ``get_model_version``, and ``get-version NAME 1 --json``;
- ``cli list via Airflow``: ``list-versions`` with the same variable, but with a custom secrets
  backend configured (``AIRFLOW__WORKERS__SECRETS_BACKEND``, naming Airflow's own
  environment-variable backend), so the connection is looked up through Airflow: what every
  command paid before, for reference.

Reports, per variant, the median wall time and CPU time (user + system of the process) and the
ratio of each CLI variant to its plain script. Prints Markdown tables.

Python's bytecode cache is on for the processes (in a temporary ``PYTHONPYCACHEPREFIX``, filled
by a first, unmeasured run of each variant), as in an installed package; ``--no-bytecode-cache``
keeps ``PYTHONDONTWRITEBYTECODE`` as the calling environment sets it, so that every process
compiles what it imports from source (seconds more for MLflow alone).

    .venv/bin/python benchmarks/cli_speed.py [--rounds 8] [--no-bytecode-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO_ROOT, markdown_table, median

from tests.support.mlflow_server import MlflowServer

CLI = str(Path(sys.executable).with_name("airflow-mlflow-registry"))
MODEL = "cli-speed"
PLAIN_LIST = """\
import sys
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1])
versions = client.search_model_versions(
    f"name='{sys.argv[2]}'", order_by=["version_number DESC"], max_results=500
)
aliases = client.get_registered_model(sys.argv[2]).aliases
for version in versions:
    print(version.version, version.status, version.run_id, version.source, aliases)
"""
PLAIN_GET = """\
import sys
from mlflow import MlflowClient
version = MlflowClient(tracking_uri=sys.argv[1]).get_model_version(sys.argv[2], "1")
print(version.version, version.status, version.run_id, version.source, version.aliases)
"""


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one process running ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=300)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def verdict(variant: str, wall_ratio: float) -> str:
    """The target column: met or missed (within 1.3x), or what the reference variant is."""
    if variant == "cli list via Airflow":
        return "reference (the old path)"
    return "met" if wall_ratio <= 1.3 else "missed"


def seed(url: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=url)
    run_id = client.create_run(client.create_experiment("cli-speed")).info.run_id
    client.create_registered_model(MODEL)
    for _ in range(2):
        client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(MODEL, "champion", "2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8, help="processes per variant")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="leave PYTHONDONTWRITEBYTECODE as it is (every process compiles from source)",
    )
    options = parser.parse_args()
    rounds = options.rounds
    root = Path(tempfile.mkdtemp(prefix="cli-speed-"))
    server = MlflowServer(root / "server")
    server.start()
    try:
        server.wait_until_ready()
        seed(server.url)
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(root / "airflow"),
            "PYTHONPATH": str(REPO_ROOT),
            "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps(
                {"conn_type": "mlflow", "host": server.url, "extra": {"timeout": 30}}
            ),
        }
        if not options.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(root / "pycache")
        via_airflow = {
            **env,
            "AIRFLOW__WORKERS__SECRETS_BACKEND": (
                "airflow.secrets.environment_variables.EnvironmentVariablesBackend"
            ),
        }
        variants = {
            "plain list": ([sys.executable, "-c", PLAIN_LIST, server.url, MODEL], env),
            "cli list": ([CLI, "list-versions", MODEL, "--json"], env),
            "plain get": ([sys.executable, "-c", PLAIN_GET, server.url, MODEL], env),
            "cli get": ([CLI, "get-version", MODEL, "1", "--json"], env),
            "cli list via Airflow": ([CLI, "list-versions", MODEL, "--json"], via_airflow),
        }
        for command, variant_env in variants.values():  # warm the file cache
            timed(command, variant_env)
        walls: dict[str, list[float]] = {name: [] for name in variants}
        cpus: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(rounds):
            order = list(variants)
            random.shuffle(order)
            for name in order:
                wall, cpu = timed(*variants[name])
                walls[name].append(wall)
                cpus[name].append(cpu)
    finally:
        server.stop()

    cache = "off (compiled from source)" if options.no_bytecode_cache else "on"
    print(f"Bytecode cache: {cache}; {rounds} rounds, each variant once a round.\n")
    print(
        markdown_table(
            ["variant", "processes", "median wall (s)", "min wall (s)", "median CPU (s)"],
            [
                [
                    name,
                    rounds,
                    f"{median(walls[name]):.2f}",
                    f"{min(walls[name]):.2f}",
                    f"{median(cpus[name]):.2f}",
                ]
                for name in variants
            ],
        )
    )
    print()
    pairs = [
        ("cli list", "plain list"),
        ("cli get", "plain get"),
        ("cli list via Airflow", "plain list"),
    ]
    print(
        markdown_table(
            ["command", "baseline", "wall ratio (medians)", "CPU ratio (medians)", "target 1.3x"],
            [
                [
                    cli,
                    plain,
                    f"{median(walls[cli]) / median(walls[plain]):.2f}x",
                    f"{median(cpus[cli]) / median(cpus[plain]):.2f}x",
                    verdict(cli, median(walls[cli]) / median(walls[plain])),
                ]
                for cli, plain in pairs
            ],
        )
    )


if __name__ == "__main__":
    main()
