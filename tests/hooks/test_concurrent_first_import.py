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

"""MLflow's first import in a process, from several threads at once, as in the triggerer.

The triggerer runs the requests of every trigger in threads (``asyncio.to_thread``): when
several MLflow triggers start together, their threads import MLflow for the first time at
the same moment. MLflow's modules import each other in cycles, and without the hook's import
lock one thread could be handed a half-initialised module ("cannot import name 'LiveSpan' from
partially initialized module 'mlflow.entities.span'"), after which MLflow stayed broken in
that process. Without the lock, half of such processes failed here (3 of 6, with the
bytecode-compiled .venv of `.ci/bootstrap.sh`).

Each process is fresh (nothing of MLflow imported yet). The connection points at a closed
port: the requests fail, as expected, and only import errors count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

PROCESSES = 6
THREADS = 3

SCRIPT = textwrap.dedent(
    """
    import json, sys, threading
    from airflow_mlflow_registry.hooks import MlflowRegistryHook

    barrier = threading.Barrier({threads})
    import_errors = []

    def first_use(index):
        hook = MlflowRegistryHook(mlflow_conn_id="first_import")
        barrier.wait()
        try:
            if index % 3 == 0:
                hook.get_version_by_alias("model", "production")
            elif index % 3 == 1:
                hook.find_versions_after("model", 0, newest_first=True)
            else:  # the Test button's probe builds a client of its own; it never raises
                _, message = hook.test_connection()
                if "import" in message.lower():
                    import_errors.append(message)
        except Exception as exc:
            if "import" in str(exc).lower():
                import_errors.append(f"{{type(exc).__name__}}: {{exc}}")

    threads = [threading.Thread(target=first_use, args=(i,)) for i in range({threads})]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({{"mlflow_loaded": "mlflow" in sys.modules, "import_errors": import_errors}}))
    """
).format(threads=THREADS)


def test_threads_importing_mlflow_at_once_all_get_a_working_mlflow() -> None:
    env = {
        **os.environ,
        "AIRFLOW_CONN_FIRST_IMPORT": json.dumps(
            {
                "conn_type": "mlflow",
                "host": "http://127.0.0.1:9",  # closed: every request fails at once
                "extra": {"max_retries": 0, "timeout": 2},
            }
        ),
    }
    outcomes = []
    for _ in range(PROCESSES):
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outcomes.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert all(outcome["mlflow_loaded"] for outcome in outcomes)
    assert [outcome["import_errors"] for outcome in outcomes] == [[]] * PROCESSES
