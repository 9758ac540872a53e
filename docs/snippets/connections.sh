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

# The `mlflow` connection examples shown in docs/connections/mlflow.rst, each in its JSON form
# and, where one exists, its URI form. tests/hooks/test_connection_config.py parses every
# AIRFLOW_CONN_* line of each block and checks that the forms of a block give the same
# connection.

# [START conn_plain_http]
export AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "http://mlflow.internal:5000"}'
export AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://@http%3A%2F%2Fmlflow.internal%3A5000'
# [END conn_plain_http]

# [START conn_basic_auth]
export AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "https://mlflow.example.com", "login": "alice", "password": "s3cret"}'
export AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://alice:s3cret@mlflow.example.com'
# [END conn_basic_auth]

# [START conn_token]
export AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "https://mlflow.example.com", "extra": {"token": "abc123"}}'
export AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://mlflow.example.com?token=abc123'
# [END conn_token]

# [START conn_token_private_ca]
export AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "https://mlflow.example.com", "extra": {"token": "abc123", "ca_bundle_path": "/etc/ssl/private-ca.pem"}}'
export AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://mlflow.example.com?token=abc123&ca_bundle_path=%2Fetc%2Fssl%2Fprivate-ca.pem'
# [END conn_token_private_ca]

# [START conn_mtls]
export AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "https://mlflow.example.com:8443", "extra": {"ca_bundle_path": "/etc/ssl/private-ca.pem", "client_cert_path": "/etc/ssl/worker.pem", "timeout": 5}}'
export AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://mlflow.example.com:8443?ca_bundle_path=%2Fetc%2Fssl%2Fprivate-ca.pem&client_cert_path=%2Fetc%2Fssl%2Fworker.pem&timeout=5'
# [END conn_mtls]

# [START conn_insecure]
AIRFLOW_CONN_MLFLOW_DEV='{"conn_type": "mlflow", "host": "https://mlflow.dev.local", "extra": {"insecure_tls": true}}'
AIRFLOW_CONN_MLFLOW_DEV='mlflow://mlflow.dev.local?insecure_tls=true'
# [END conn_insecure]

# [START conn_workspace]
AIRFLOW_CONN_MLFLOW_TEAM_A='{"conn_type": "mlflow", "host": "https://mlflow.example.com", "login": "svc-team-a", "password": "s3cret", "extra": {"workspace": "team-a"}}'
AIRFLOW_CONN_MLFLOW_TEAM_A='mlflow://svc-team-a:s3cret@mlflow.example.com?workspace=team-a'
# [END conn_workspace]

# [START conn_s3_artifacts]
AIRFLOW_CONN_AWS_MLFLOW_ARTIFACTS='{"conn_type": "aws", "extra": {"role_arn": "arn:aws:iam::123456789012:role/mlflow-artifacts", "region_name": "eu-west-1"}}'
AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "https://mlflow.example.com", "login": "airflow", "password": "s3cret", "extra": {"aws_conn_id": "aws_mlflow_artifacts", "artifact_buckets": "mlflow-artifacts"}}'
AIRFLOW_CONN_MLFLOW_DEFAULT='mlflow://airflow:s3cret@mlflow.example.com?aws_conn_id=aws_mlflow_artifacts&artifact_buckets=mlflow-artifacts'
# [END conn_s3_artifacts]

# [START conn_databricks]
AIRFLOW_CONN_MLFLOW_DBX='{"conn_type": "mlflow", "host": "databricks", "extra": {"databricks_host": "https://adb-1234.5.azuredatabricks.net", "token": "dapi..."}}'
AIRFLOW_CONN_MLFLOW_DBX='mlflow://@databricks?databricks_host=https%3A%2F%2Fadb-1234.5.azuredatabricks.net&token=dapi...'
# [END conn_databricks]

# [START conn_local_store]
export AIRFLOW_CONN_MLFLOW_DEFAULT='{"conn_type": "mlflow", "host": "sqlite:////srv/mlflow/mlflow.db"}'
# [END conn_local_store]

# [START conn_database_store]
AIRFLOW_CONN_MLFLOW_DB='{"conn_type": "mlflow", "host": "postgresql+psycopg2://db.internal:5432/mlflow", "login": "mlflow", "password": "s3cret"}'
# [END conn_database_store]
