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

"""MLflow registry webhooks received by the Airflow api-server.

An MLflow 3.3+ server with a SQL store POSTs a signed delivery for each registry change to
``<api-server>/mlflow-registry/webhooks/<conn-id>``. The receiver, an Airflow plugin mounted on
the api-server, verifies it and records the change as an asset event on
``model_asset(conn_id, model)``, the asset the registry-event trigger and the operators use.

The rooms: :mod:`.signature` (what makes a delivery authentic), :mod:`.changes` (what a delivery
says, the events it becomes, and the de-duplication both paths share), :mod:`.shared_secret` (where
the shared secret lives), :mod:`.recording` (the asset event, in the metadata DB),
:mod:`.receiver` (the HTTP endpoint) and :mod:`.plugin` (how Airflow finds it).
"""
