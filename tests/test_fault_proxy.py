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

"""The fault-injection proxy: for each fault, what the client sees and what the real MLflow
server behind it did. Requests go through ``requests``' module functions and a plain
``Session``, which never retry (``max_retries=0``), so each fault reaches the client as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.support.fault_proxy import FaultProxy
from tests.support.model_versions import unique

if TYPE_CHECKING:
    from tests.support.mlflow_server import MlflowServer

CREATE_MODEL = "/api/2.0/mlflow/registered-models/create"
GET_MODEL = "/api/2.0/mlflow/registered-models/get"
CREATE_VERSION = "/api/2.0/mlflow/model-versions/create"
GET_VERSION = "/api/2.0/mlflow/model-versions/get"
SEARCH_MODELS = "/api/2.0/mlflow/registered-models/search"


def create_model(base_url: str, name: str, timeout: float = 30) -> requests.Response:
    return requests.post(f"{base_url}{CREATE_MODEL}", json={"name": name}, timeout=timeout)


def model_exists(server: MlflowServer, name: str) -> bool:
    """Whether ``server`` has registered model ``name``, asked directly (not via a proxy)."""
    response = requests.get(f"{server.url}{GET_MODEL}", params={"name": name}, timeout=30)
    if response.status_code == 404:
        return False
    response.raise_for_status()
    return True


def test_drop_reply_loses_the_reply_after_the_server_committed(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("fault-proxy")
    fault_proxy.add_fault("POST", CREATE_MODEL, "drop_reply")

    with pytest.raises(requests.exceptions.ConnectionError, match="RemoteDisconnected"):
        create_model(fault_proxy.url, name)

    assert model_exists(mlflow_server, name)
    assert fault_proxy.forwarded_count == 1
    assert fault_proxy.faults_injected == 1


def test_503_after_forward_answers_503_after_the_server_committed(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("fault-proxy")
    fault_proxy.add_fault("POST", CREATE_MODEL, "503_after_forward")

    response = create_model(fault_proxy.url, name)

    assert response.status_code == 503
    assert response.json() == {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected"}
    assert model_exists(mlflow_server, name)
    assert fault_proxy.forwarded_count == 1


@pytest.mark.parametrize(
    ("kind", "status", "error_code"),
    [
        ("503_before_forward", 503, "TEMPORARILY_UNAVAILABLE"),
        ("403_before_forward", 403, "PERMISSION_DENIED"),
    ],
)
def test_before_forward_faults_answer_an_error_and_the_server_never_sees_the_request(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer, kind: str, status: int, error_code: str
) -> None:
    name = unique("fault-proxy")
    fault_proxy.add_fault("POST", CREATE_MODEL, kind)  # type: ignore[arg-type]

    response = create_model(fault_proxy.url, name)

    assert response.status_code == status
    assert response.json()["error_code"] == error_code
    assert not model_exists(mlflow_server, name)
    assert fault_proxy.forwarded_count == 0
    assert fault_proxy.requests_seen == [("POST", CREATE_MODEL)]


def test_delay_reply_makes_the_client_time_out_after_the_server_committed(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("fault-proxy")
    fault_proxy.add_fault("POST", CREATE_MODEL, "delay_reply", seconds=3)

    with pytest.raises(requests.exceptions.ReadTimeout):
        create_model(fault_proxy.url, name, timeout=1)

    assert model_exists(mlflow_server, name)


def test_delay_reply_sends_the_servers_reply_late(fault_proxy: FaultProxy) -> None:
    name = unique("fault-proxy")
    fault_proxy.add_fault("POST", CREATE_MODEL, "delay_reply", seconds=0.5)

    response = create_model(fault_proxy.url, name)

    assert fault_proxy.faults_injected == 1
    assert response.status_code == 200
    assert response.json()["registered_model"]["name"] == name


def test_rewrite_json_shows_the_client_a_status_the_server_never_reported(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("fault-proxy")
    create_model(mlflow_server.url, name).raise_for_status()
    requests.post(
        f"{mlflow_server.url}{CREATE_VERSION}",
        json={"name": name, "source": "s3://bucket/model"},
        timeout=30,
    ).raise_for_status()

    def pending(reply: dict[str, Any]) -> dict[str, Any]:
        reply["model_version"]["status"] = "PENDING_REGISTRATION"
        return reply

    fault_proxy.add_fault("GET", GET_VERSION, "rewrite_json", rewrite=pending)
    params = {"name": name, "version": "1"}

    rewritten = requests.get(f"{fault_proxy.url}{GET_VERSION}", params=params, timeout=30)
    passed_through = requests.get(f"{fault_proxy.url}{GET_VERSION}", params=params, timeout=30)

    assert rewritten.status_code == 200
    assert rewritten.headers["Content-Length"] == str(len(rewritten.content))
    assert rewritten.json()["model_version"]["status"] == "PENDING_REGISTRATION"
    assert rewritten.json()["model_version"]["name"] == name
    assert passed_through.json()["model_version"]["status"] == "READY"


def test_fault_fires_only_on_its_method_and_path_and_only_times_times(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("fault-proxy")
    fault_proxy.add_fault("post", "registered-models/create", "503_before_forward", times=2)

    other_path = requests.post(f"{fault_proxy.url}{CREATE_VERSION}", json={}, timeout=30)
    other_method = requests.get(f"{fault_proxy.url}{CREATE_MODEL}", timeout=30)
    statuses = [create_model(fault_proxy.url, name).status_code for _ in range(3)]

    assert 503 not in (other_path.status_code, other_method.status_code)
    assert statuses == [503, 503, 200]
    assert fault_proxy.faults_injected == 2
    # The two unfaulted requests and the third create; a 503_before_forward forwards nothing.
    assert fault_proxy.forwarded_count == 3
    assert model_exists(mlflow_server, name)


def test_times_none_faults_every_match_until_clear_faults(fault_proxy: FaultProxy) -> None:
    fault_proxy.add_fault("GET", SEARCH_MODELS, "503_before_forward", times=None)
    url = f"{fault_proxy.url}{SEARCH_MODELS}"

    faulted = [requests.get(url, timeout=30).status_code for _ in range(4)]
    fault_proxy.clear_faults()
    after_clear = requests.get(url, timeout=30).status_code

    assert faulted == [503] * 4
    assert after_clear == 200
    assert fault_proxy.faults_injected == 4


def test_faults_fire_in_the_order_they_were_added(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    first, second = unique("fault-proxy"), unique("fault-proxy")
    fault_proxy.add_fault("POST", CREATE_MODEL, "503_before_forward")
    fault_proxy.add_fault("POST", CREATE_MODEL, "503_after_forward")

    responses = [create_model(fault_proxy.url, name) for name in (first, second)]

    assert [response.status_code for response in responses] == [503, 503]
    assert (model_exists(mlflow_server, first), model_exists(mlflow_server, second)) == (
        False,
        True,
    )


def test_refuse_connections_refuses_then_accepts_again_on_the_same_port(
    fault_proxy: FaultProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("fault-proxy")

    fault_proxy.refuse_connections(True)
    with pytest.raises(requests.exceptions.ConnectionError, match="Connection refused"):
        create_model(fault_proxy.url, name, timeout=5)
    committed_while_refusing = model_exists(mlflow_server, name)
    fault_proxy.refuse_connections(False)
    accepted = create_model(fault_proxy.url, name)

    assert not committed_while_refusing
    assert accepted.status_code == 200
    assert model_exists(mlflow_server, name)
    assert fault_proxy.requests_seen == [("POST", CREATE_MODEL)]


def test_refuse_connections_closes_kept_alive_connections(fault_proxy: FaultProxy) -> None:
    url = f"{fault_proxy.url}{SEARCH_MODELS}"

    with requests.Session() as session:
        before = session.get(url, timeout=30)
        fault_proxy.refuse_connections(True)
        with pytest.raises(requests.exceptions.ConnectionError, match="Connection refused"):
            session.get(url, timeout=5)

    assert before.status_code == 200
    assert fault_proxy.forwarded_count == 1


@pytest.mark.parametrize(
    ("kind", "options", "problem"),
    [
        ("drop_everything", {}, "unknown fault kind"),
        ("delay_reply", {}, "'delay_reply' needs seconds"),
        ("delay_reply", {"seconds": -1.0}, "'delay_reply' needs seconds >= 0"),
        ("drop_reply", {"seconds": 1.0}, "seconds applies to 'delay_reply' only"),
        ("rewrite_json", {}, "'rewrite_json' needs rewrite"),
        ("drop_reply", {"rewrite": dict}, "rewrite applies to 'rewrite_json' only"),
        ("503_after_forward", {"times": 0}, "times must be at least 1"),
    ],
)
def test_add_fault_rejects_bad_arguments(kind: Any, options: Any, problem: str) -> None:
    proxy = FaultProxy("http://127.0.0.1:9")
    try:
        with pytest.raises(ValueError, match=problem):
            proxy.add_fault("POST", CREATE_MODEL, kind, **options)
    finally:
        proxy.stop()
