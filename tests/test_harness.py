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

"""The test harness itself: every server, proxy and listener behaves as other tests assume."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from tests.support.bearer_proxy import BearerProxy
from tests.support.model_versions import unique
from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from tests.support.certs import TlsCerts
    from tests.support.mlflow_server import MlflowServer
    from tests.support.s3_server import S3Server
    from tests.support.silent_server import SilentServer

CREATE_MODEL = "/api/2.0/mlflow/registered-models/create"
GET_MODEL = "/api/2.0/mlflow/registered-models/get"
SEARCH_MODELS = "/api/2.0/mlflow/registered-models/search"
CREATE_VERSION = "/api/2.0/mlflow/model-versions/create"
SEARCH_VERSIONS = "/api/2.0/mlflow/model-versions/search"
GET_USER = "/api/2.0/mlflow/users/get"


def test_plain_server_creates_and_finds_a_registered_model(mlflow_server: MlflowServer) -> None:
    name = unique("harness")

    created = requests.post(f"{mlflow_server.url}{CREATE_MODEL}", json={"name": name}, timeout=30)
    found = requests.get(
        f"{mlflow_server.url}{SEARCH_MODELS}", params={"filter": f"name = '{name}'"}, timeout=30
    )

    assert created.status_code == 200
    assert [model["name"] for model in found.json()["registered_models"]] == [name]


def test_auth_server_rejects_anonymous_and_wrong_password_and_accepts_alice(
    auth_mlflow_server: MlflowServer,
) -> None:
    url = f"{auth_mlflow_server.url}{SEARCH_MODELS}"
    alice_password = auth_mlflow_server.passwords["alice"]

    anonymous = requests.get(url, timeout=30)
    wrong_password = requests.get(url, auth=("alice", alice_password + "x"), timeout=30)
    alice = requests.get(url, auth=("alice", alice_password), timeout=30)

    assert anonymous.status_code == 401
    assert wrong_password.status_code == 401
    assert alice.status_code == 200


def test_auth_server_has_alice_and_bob_as_non_admins_with_distinct_long_passwords(
    auth_mlflow_server: MlflowServer,
) -> None:
    admin = (auth_mlflow_server.admin_username, auth_mlflow_server.admin_password)
    passwords = auth_mlflow_server.passwords

    users = [
        requests.get(
            f"{auth_mlflow_server.url}{GET_USER}",
            params={"username": username},
            auth=admin,
            timeout=30,
        ).json()["user"]
        for username in ("alice", "bob")
    ]

    assert [(user["username"], user["is_admin"]) for user in users] == [
        ("alice", False),
        ("bob", False),
    ]
    assert set(passwords) == {auth_mlflow_server.admin_username, "alice", "bob"}
    assert len(set(passwords.values())) == 3
    assert all(len(password) >= 12 for password in passwords.values())


def test_auth_server_lets_bob_read_but_not_add_a_version_to_alices_model(
    auth_mlflow_server: MlflowServer,
) -> None:
    url = auth_mlflow_server.url
    alice = ("alice", auth_mlflow_server.passwords["alice"])
    bob = ("bob", auth_mlflow_server.passwords["bob"])
    name = unique("harness")
    version = {"name": name, "source": "s3://bucket/model"}

    model_by_alice = requests.post(
        f"{url}{CREATE_MODEL}", json={"name": name}, auth=alice, timeout=30
    )
    version_by_alice = requests.post(f"{url}{CREATE_VERSION}", json=version, auth=alice, timeout=30)
    version_by_bob = requests.post(f"{url}{CREATE_VERSION}", json=version, auth=bob, timeout=30)
    read_by_bob = requests.get(f"{url}{GET_MODEL}", params={"name": name}, auth=bob, timeout=30)
    versions = requests.get(
        f"{url}{SEARCH_VERSIONS}", params={"filter": f"name = '{name}'"}, auth=alice, timeout=30
    )

    assert model_by_alice.status_code == 200
    assert version_by_alice.status_code == 200
    assert version_by_bob.status_code == 403
    assert "Permission denied" in version_by_bob.text
    assert read_by_bob.status_code == 200
    assert [v["version"] for v in versions.json()["model_versions"]] == ["1"]


def test_https_server_is_trusted_with_its_ca_only(
    https_mlflow_server: MlflowServer, tls_certs: TlsCerts
) -> None:
    url = f"{https_mlflow_server.url}{SEARCH_MODELS}"

    trusted = requests.get(url, verify=str(tls_certs.ca_pem), timeout=30)
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(url, verify=str(tls_certs.other_ca_pem), timeout=30)

    assert https_mlflow_server.url.startswith("https://")
    assert trusted.status_code == 200


def test_mtls_server_requires_a_client_certificate(
    mtls_mlflow_server: MlflowServer, tls_certs: TlsCerts
) -> None:
    url = f"{mtls_mlflow_server.url}{SEARCH_MODELS}"

    # With TLS 1.3 the server rejects the missing certificate after the client's handshake
    # completed: the client sees the connection closed (or an SSLError, a ConnectionError too).
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url, verify=str(tls_certs.ca_pem), timeout=30)
    with_client_cert = requests.get(
        url, verify=str(tls_certs.ca_pem), cert=str(tls_certs.client_pem), timeout=30
    )

    assert with_client_cert.status_code == 200


def test_bearer_proxy_forwards_only_requests_with_its_token(bearer_proxy: BearerProxy) -> None:
    bearer_proxy.reset_counts()
    url = f"{bearer_proxy.url}{SEARCH_MODELS}"

    missing = requests.get(url, timeout=30)
    wrong = requests.get(url, headers={"Authorization": "Bearer not-the-token"}, timeout=30)
    right = requests.get(
        url,
        params={"max_results": 1},
        headers={"Authorization": f"Bearer {bearer_proxy.token}"},
        timeout=30,
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["error_code"] == wrong.json()["error_code"] == "UNAUTHENTICATED"
    assert right.status_code == 200
    assert bearer_proxy.forwarded_count == 1
    assert bearer_proxy.requests_seen == [
        ("GET", SEARCH_MODELS),
        ("GET", SEARCH_MODELS),
        ("GET", f"{SEARCH_MODELS}?max_results=1"),
    ]


def test_bearer_proxy_forwards_post_bodies_to_the_upstream_server(
    bearer_proxy: BearerProxy, mlflow_server: MlflowServer
) -> None:
    name = unique("harness")
    token = {"Authorization": f"Bearer {bearer_proxy.token}"}

    created = requests.post(
        f"{bearer_proxy.url}{CREATE_MODEL}", json={"name": name}, headers=token, timeout=30
    )
    direct = requests.get(f"{mlflow_server.url}{GET_MODEL}", params={"name": name}, timeout=30)

    assert created.status_code == 200
    assert created.json()["registered_model"]["name"] == name
    assert direct.status_code == 200


def test_proxy_without_token_forwards_and_counts_every_request(
    mlflow_server: MlflowServer,
) -> None:
    with BearerProxy(mlflow_server.url) as proxy:
        responses = [requests.get(f"{proxy.url}{SEARCH_MODELS}", timeout=30) for _ in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert proxy.forwarded_count == 3
    assert proxy.requests_seen == [("GET", SEARCH_MODELS)] * 3


def test_silent_server_accepts_and_makes_a_client_time_out(silent_server: SilentServer) -> None:
    accepted = silent_server.connections_accepted
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(silent_server.url, timeout=1)

    assert silent_server.connections_accepted == accepted + 1  # connected, then no answer


def test_unused_port_refuses_connections(unused_port: int) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{unused_port}/", timeout=5)


def test_unused_ports_lie_below_the_ephemeral_range_so_no_outgoing_connection_takes_them() -> None:
    """A port handed to a server that starts later must not be one the kernel may give an
    outgoing connection as its local port (the stack tier once lost its MLflow port so)."""
    lowest_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [find_unused_port() for _ in range(50)]
    assert all(10000 <= port < lowest_ephemeral for port in ports), ports
    assert len(set(ports)) > 1  # chosen at random, not a fixed port


def test_each_s3_endpoint_accepts_only_its_own_keys(s3_endpoints: dict[str, S3Server]) -> None:
    """An S3 request signed with another endpoint's keys is refused, so an object found on an
    endpoint was written with that endpoint's keys."""
    import boto3
    from botocore.exceptions import ClientError

    own, other = s3_endpoints["a"], s3_endpoints["b"]
    own.client().put_object(Bucket="store-a", Key="harness/own-keys", Body=b"x")
    foreign = boto3.session.Session(
        aws_access_key_id=other.access_key_id,
        aws_secret_access_key=other.secret_access_key,
        region_name="us-east-1",
    ).client("s3", endpoint_url=own.url)
    with pytest.raises(ClientError, match="InvalidAccessKeyId"):
        foreign.put_object(Bucket="store-a", Key="harness/foreign-keys", Body=b"x")
    assert own.object_keys("store-a", "harness/") == ["harness/own-keys"]
