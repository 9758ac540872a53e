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

"""MLflow client plumbing behind :class:`~airflow_mlflow_registry.hooks.MlflowRegistryHook`:
the connection's parsed configuration, a client bound to that connection alone (its transport,
credentials and artifact repositories), and what differs between MLflow client and server
versions. Internal: import the hook, not these modules."""
