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


"""S3 endpoints on 127.0.0.1 for the cloud-artifact tests: moto's server mode, a real S3 HTTP
API in a process of its own. Two instances are two independent "accounts": nothing one stores
is visible through the other, and each accepts only its own keys (moto's IAM authentication
is on: a request signed with another endpoint's keys is refused with InvalidAccessKeyId).
Each logs every request it serves (method and path) to its log file, the access log the tests
read."""

from __future__ import annotations

import contextlib
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from tests.support.processes import ServerProcess, StartedOnEnter
from tests.support.silent_server import find_unused_port

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.mlflow_server import MlflowServer

REGION = "us-east-1"
#: The requests moto serves before it checks keys: creating the user, its key and its policy.
UNAUTHENTICATED_SETUP_REQUESTS = 3
ALLOW_ALL_S3 = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", '
    '"Resource": "*"}]}'
)


class S3Server(StartedOnEnter):
    """One moto S3 server on 127.0.0.1 with its files under ``root``.

    Attributes: ``url`` (``http://127.0.0.1:<port>``), ``port``, ``log_path`` (the access log),
    ``access_key_id`` and ``secret_access_key`` (this endpoint's only keys, made by ``start()``
    for an IAM user allowed every S3 action).
    """

    def __init__(self, root: Path, *, name: str = "s3") -> None:
        self.root = root
        self.name = name
        self.port = find_unused_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = root / f"{name}.log"
        self.access_key_id = ""
        self.secret_access_key = ""
        self._process = ServerProcess(name, self.log_path)
        #: The MLflow server proxying its artifacts here (:func:`proxied_s3_mlflow_server`).
        self.mlflow: MlflowServer | None = None

    def start(self) -> None:
        """Start the server and block until it answers (30 s at most).

        :raises RuntimeError: with the log's tail when it exits or does not answer.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        self._process.launch(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            self._answers,
            env={
                "PATH": "/usr/bin:/bin",
                "HOME": str(self.root),
                "INITIAL_NO_AUTH_ACTION_COUNT": str(UNAUTHENTICATED_SETUP_REQUESTS),
            },
            cwd=self.root,
            timeout=30,
        )
        self._make_keys()

    def _make_keys(self) -> None:
        """Create this endpoint's IAM user, its access key and an allow-all-S3 policy (the
        requests served before moto checks keys)."""
        import boto3

        iam = boto3.session.Session(
            aws_access_key_id="setup", aws_secret_access_key="setup", region_name=REGION
        ).client("iam", endpoint_url=self.url)
        iam.create_user(UserName=self.name)
        key = iam.create_access_key(UserName=self.name)["AccessKey"]
        iam.put_user_policy(UserName=self.name, PolicyName="s3", PolicyDocument=ALLOW_ALL_S3)
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]

    def stop(self) -> None:
        """Stop the server; what it stored is gone with it."""
        self._process.stop()

    @property
    def pid(self) -> int:
        """The server's process id (also its process group's: it runs in a session of its
        own), for a caller that stops it without this object (``os.killpg``)."""
        if self._process.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self._process.process.pid

    def client(self):  # type: ignore[no-untyped-def]
        """A boto3 S3 client of this endpoint with its own keys (boto3 imported here)."""
        return s3_client(self.url, self.access_key_id, self.secret_access_key)

    def server_environment(self) -> dict[str, str]:
        """What an ``mlflow server`` process needs to keep its artifacts on this endpoint
        (``--artifacts-destination s3://...``): the endpoint and this endpoint's keys."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_DEFAULT_REGION": REGION,
        }

    def create_bucket(self, bucket: str) -> None:
        """Create ``bucket`` on this endpoint."""
        self.client().create_bucket(Bucket=bucket)

    def object_keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every object key in ``bucket`` under ``prefix``, sorted."""
        return object_keys(self.client(), bucket, prefix)

    def access_log(self) -> str:
        """Every request line this server logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False


def s3_client(url: str, access_key_id: str, secret_access_key: str):  # type: ignore[no-untyped-def]
    """A boto3 S3 client of the endpoint at ``url`` with the given keys (boto3 imported here),
    e.g. for an endpoint started by another process."""
    import boto3

    return boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=REGION,
    ).client("s3", endpoint_url=url)


def object_keys(client, bucket: str, prefix: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    """Every object key in ``bucket`` under ``prefix`` that the boto3 S3 ``client`` lists,
    sorted."""
    paginator = client.get_paginator("list_objects_v2")
    return sorted(
        item["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    )


@contextlib.contextmanager
def proxied_s3_mlflow_server(root: Path, bucket: str = "artifacts") -> Iterator[S3Server]:
    """An S3 endpoint with ``bucket``, and an ``mlflow server`` proxying its artifacts there
    (``--artifacts-destination s3://<bucket>/mlflow``), both under ``root``: yields the
    endpoint, whose ``mlflow`` attribute is the ready server. Both stop on exit."""
    from tests.support.mlflow_server import MlflowServer

    with S3Server(root / "s3") as s3:
        s3.create_bucket(bucket)
        server = MlflowServer(
            root / "mlflow",
            artifacts_destination=f"s3://{bucket}/mlflow",
            environment=s3.server_environment(),
        )
        server.start()
        try:
            server.wait_until_ready()
            s3.mlflow = server
            yield s3
        finally:
            server.stop()
