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

"""MLflow servers whose clients read and write an S3 artifact store directly
(``--default-artifact-root s3://... --no-serve-artifacts``), each store on an S3 endpoint of
its own (:class:`~tests.support.s3_server.S3Server`), reached through an Airflow AWS
connection; and a hostile worker environment pointing at a third endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.support.airflow_env import connection_env_var, connection_json
from tests.support.s3_server import REGION

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.mlflow_server import MlflowServer
    from tests.support.s3_server import S3Server

#: The bucket of each direct-access store, by store name; the hostile endpoint has them too, so
#: that a request sent there would succeed silently, not fail.
STORE_NAMES = ("a", "b")


def store_bucket(name: str) -> str:
    """The artifact bucket of store ``name``."""
    return f"store-{name}"


@dataclass(frozen=True)
class DirectStore:
    """Store ``name``: an MLflow server whose artifact root is ``s3://<bucket>/root`` on the S3
    endpoint ``s3``; ``aws_conn_id`` holds that endpoint's keys and URL, ``mlflow_conn_id``
    names it (extras ``aws_conn_id`` and ``artifact_buckets``)."""

    name: str
    s3: S3Server
    server: MlflowServer

    @property
    def bucket(self) -> str:
        return store_bucket(self.name)

    @property
    def aws_conn_id(self) -> str:
        return f"aws_store_{self.name}"

    @property
    def mlflow_conn_id(self) -> str:
        return f"mlflow_store_{self.name}"

    def connection_variables(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` variables of its AWS and MLflow connections."""
        aws = {
            "conn_type": "aws",
            "login": self.s3.access_key_id,
            "password": self.s3.secret_access_key,
            "extra": {"endpoint_url": self.s3.url, "region_name": REGION},
        }
        mlflow = connection_json(
            self.server.url, aws_conn_id=self.aws_conn_id, artifact_buckets=self.bucket
        )
        return {
            connection_env_var(self.aws_conn_id): json.dumps(aws),
            connection_env_var(self.mlflow_conn_id): mlflow,
        }


def hostile_environment(hostile: S3Server, config_dir: Path) -> dict[str, str]:
    """Variables of a worker set up for another account: its keys, a profile of that account
    (with its own endpoint) as ``AWS_PROFILE``, and every endpoint variable boto3 and MLflow
    read pointing at ``hostile``."""
    config_dir.mkdir(parents=True, exist_ok=True)
    profile = (
        f"aws_access_key_id = {hostile.access_key_id}\n"
        f"aws_secret_access_key = {hostile.secret_access_key}\n"
    )
    (config_dir / "credentials").write_text(f"[hostile]\n{profile}")
    (config_dir / "config").write_text(
        f"[profile hostile]\nregion = eu-west-1\nendpoint_url = {hostile.url}\n{profile}"
    )
    return {
        "AWS_ACCESS_KEY_ID": hostile.access_key_id,
        "AWS_SECRET_ACCESS_KEY": hostile.secret_access_key,
        "AWS_PROFILE": "hostile",
        "AWS_CONFIG_FILE": str(config_dir / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(config_dir / "credentials"),
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL": hostile.url,
        "AWS_ENDPOINT_URL_S3": hostile.url,
        "MLFLOW_S3_ENDPOINT_URL": hostile.url,
    }
