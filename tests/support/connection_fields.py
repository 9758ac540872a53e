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
}
