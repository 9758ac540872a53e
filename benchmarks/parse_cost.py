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

"""What importing the provider's operators adds to DAG parsing.

Starts fresh Python processes, interleaved, that import ``airflow.sdk`` alone or ``airflow.sdk``
plus ``airflow_mlflow_registry.operators``, and reports the median wall time of each, their
ratio, and whether ``mlflow`` was imported (it must not be). Whole-process times on a busy
machine vary by far more than the provider costs, so it also reports the provider's own
import time from ``python -X importtime`` (the cumulative time of importing
``airflow_mlflow_registry.operators`` after ``airflow.sdk`` is loaded). Prints Markdown tables.

    .venv/bin/python benchmarks/parse_cost.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from _common import markdown_table, median

BASELINE = "import airflow.sdk"
WITH_PROVIDER = "import airflow.sdk, airflow_mlflow_registry.operators"
REPORT = "; import sys; print('mlflow' in sys.modules)"


def timed_import(code: str, env: dict[str, str]) -> tuple[float, bool]:
    """Wall seconds of a fresh interpreter running ``code``, and whether mlflow got imported."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return time.perf_counter() - started, done.stdout.strip().endswith("True")


def provider_import_seconds(env: dict[str, str]) -> float:
    """Cumulative seconds ``-X importtime`` reports for importing the operators module after
    ``airflow.sdk`` (what the provider adds to a DAG file that already uses Airflow)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", WITH_PROVIDER],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    for line in done.stderr.splitlines():
        # "import time:  self [us] | cumulative | imported package", top level unindented.
        _, _, fields = line.partition("import time:")
        parts = fields.split("|")
        if len(parts) == 3 and parts[2].rstrip() == " airflow_mlflow_registry.operators":
            return int(parts[1]) / 1e6
    raise RuntimeError("airflow_mlflow_registry.operators not in the -X importtime output")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="processes per variant")
    rounds = parser.parse_args().rounds
    env = {**os.environ, "AIRFLOW_HOME": tempfile.mkdtemp(prefix="parse-cost-")}
    timed_import(WITH_PROVIDER, env)  # warm the file cache and write Airflow's default config
    seconds: dict[str, list[float]] = {BASELINE: [], WITH_PROVIDER: []}
    mlflow_imported = False
    for _ in range(rounds):
        for code in (BASELINE, WITH_PROVIDER):
            elapsed, imported = timed_import(code, env)
            seconds[code].append(elapsed)
            mlflow_imported = mlflow_imported or (imported and code == WITH_PROVIDER)
    base, provider = median(seconds[BASELINE]), median(seconds[WITH_PROVIDER])
    own = median([provider_import_seconds(env) for _ in range(rounds)])
    print(
        markdown_table(
            ["import", "processes", "median (s)", "min (s)", "max (s)"],
            [
                [f"`{code}`", rounds, f"{median(s):.3f}", f"{min(s):.3f}", f"{max(s):.3f}"]
                for code, s in seconds.items()
            ],
        )
    )
    print()
    print(
        markdown_table(
            [
                "process median ratio",
                "process median difference (s)",
                "provider's own import, -X importtime median (s)",
                "its share of the baseline",
                "mlflow imported",
            ],
            [
                [
                    f"{provider / base:.3f}x",
                    f"{provider - base:+.3f}",
                    f"{own:.3f}",
                    f"{own / base:.1%}",
                    mlflow_imported,
                ]
            ],
        )
    )


if __name__ == "__main__":
    main()
