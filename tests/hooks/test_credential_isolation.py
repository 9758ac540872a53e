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

"""Two connections, one process, many threads: each call runs under its own connection's identity.

MLflow alone reads credentials from process-wide environment variables and shares one REST
store per URI, so two identities in one worker can swap. The hook binds credentials to each
client; this test fails if that binding is replaced by environment variables.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook

if TYPE_CHECKING:
    from tests.conftest import UseConnection
    from tests.support.mlflow_server import MlflowServer

USERS = ("alice", "bob")
THREADS_PER_USER = 4
MODELS_PER_THREAD = 6


@pytest.mark.compat
def test_interleaved_calls_from_8_threads_never_run_under_the_other_identity(
    auth_mlflow_server: MlflowServer, use_connection: UseConnection
) -> None:
    for user in USERS:
        use_connection(f"iso_{user}", auth_mlflow_server.url, **auth_mlflow_server.sign_in_as(user))
    hooks = {user: MlflowRegistryHook(mlflow_conn_id=f"iso_{user}") for user in USERS}
    start = threading.Barrier(len(USERS) * THREADS_PER_USER)

    def work(user: str, thread: int) -> list[str]:
        client = hooks[user].get_conn()
        start.wait(timeout=60)
        names = []
        for index in range(MODELS_PER_THREAD):
            name = f"iso-{user}-{thread}-{index}"
            client.create_registered_model(name)
            # Needs EDIT on the model: 403 if the create above ran as the other user.
            client.set_registered_model_tag(name, "writer", user)
            names.append(name)
        return names

    with ThreadPoolExecutor(max_workers=len(USERS) * THREADS_PER_USER) as pool:
        futures = {
            (user, thread): pool.submit(work, user, thread)
            for thread in range(THREADS_PER_USER)
            for user in USERS
        }
        created = {key: future.result(timeout=300) for key, future in futures.items()}

    wrong_identity = []
    checked = 0
    for (user, _thread), names in created.items():
        other = next(u for u in USERS if u != user)
        for name in names:
            checked += 1
            owner_ok = auth_mlflow_server.model_permission(name, user) == "MANAGE"
            other_ok = auth_mlflow_server.model_permission(name, other) != "MANAGE"
            if not (owner_ok and other_ok):
                wrong_identity.append(name)
    assert checked == len(USERS) * THREADS_PER_USER * MODELS_PER_THREAD
    assert wrong_identity == []
