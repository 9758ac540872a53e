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

"""What the `mlflow` connection form should show: the provider's custom fields and their
labels, checked against the provider info and against the form in a browser."""

from __future__ import annotations

#: Custom field name -> label.
EXPECTED_FIELDS = {
    "token": "Bearer token",
    "insecure_tls": "Skip TLS verification (insecure)",
    "ca_bundle_path": "CA bundle path",
    "client_cert_path": "Client certificate path",
    "databricks_host": "Databricks workspace URL",
    "registry_uri": "Registry URI",
    "timeout": "Request timeout (seconds)",
    "max_retries": "HTTP retries",
    "pool_size": "HTTP connection pool size",
    "workspace": "MLflow workspace",
    "aws_conn_id": "AWS connection for the artifact store",
    "artifact_buckets": "Artifact store buckets",
}
