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

"""The installed MLflow client is bound by feature detection, whatever its 3.x version: every
registry and tracking request the hook sends goes through the connection's transport (its
timeout, its retry rule), none is left to MLflow's process-wide HTTP policy.

Which transport sends a request cannot be seen from a server, so ``RestTransport.call`` (our
own class) is replaced by a recorder that notes each request, answers MLflow's preliminary
look-ups with an empty response and stops at the request under test; the connection points
at a closed port, so a request MLflow's transport sent instead fails with "connection refused"
and is not recorded. Run this file with each supported client (see README, compatibility).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_mlflow_registry.hooks import MlflowRegistryHook

if TYPE_CHECKING:
    from collections.abc import Callable

    from mlflow import MlflowClient

    from tests.conftest import UseConnection

#: Request name -> a client call that sends it: every call the hook and operators make.
CLIENT_CALLS: dict[str, Callable[[MlflowClient], Any]] = {
    "CreateRegisteredModel": lambda c: c.create_registered_model("m"),
    "SearchRegisteredModels": lambda c: c.search_registered_models(max_results=1),
    "CreateModelVersion": lambda c: c.create_model_version("m", "s3://bucket/m", tags={"k": "v"}),
    "SearchModelVersions": lambda c: c.search_model_versions("name = 'm'"),
    "GetModelVersion": lambda c: c.get_model_version("m", "1"),
    "DeleteModelVersion": lambda c: c.delete_model_version("m", "2"),
    "SetModelVersionTag": lambda c: c.set_model_version_tag("m", "1", "k", "v"),
    "SetRegisteredModelAlias": lambda c: c.set_registered_model_alias("m", "staging", "1"),
    "GetModelVersionByAlias": lambda c: c.get_model_version_by_alias("m", "staging"),
    "GetRun": lambda c: c.get_run("0" * 32),
    "SearchRuns": lambda c: c.search_runs(["1"], "attributes.status = 'FINISHED'"),
    "GetExperimentByName": lambda c: c.get_experiment_by_name("e"),
    "CreateRun": lambda c: c.create_run("1"),
    "LogMetric": lambda c: c.log_metric("0" * 32, "accuracy", 0.5),
}


class Recorded(Exception):
    """Raised by the recording transport once it has noted a request."""


@pytest.mark.compat
@pytest.mark.parametrize("request_name", sorted(CLIENT_CALLS))
def test_request_is_sent_by_the_connection_transport(
    request_name: str,
    unused_port: int,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow_mlflow_registry.hooks.client.rest_transport import RestTransport

    seen: list[str] = []

    def record(transport: RestTransport, request: Any) -> Any:
        seen.append(request.name)
        if request.name != request_name:  # a look-up MLflow makes first: answer it empty
            return request.response_proto
        raise Recorded(request.name)

    monkeypatch.setattr(RestTransport, "call", record)
    # A request MLflow's transport sent would be refused at once instead of retried for minutes.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    use_connection("compat", f"http://127.0.0.1:{unused_port}", max_retries=0, timeout=2)
    client = MlflowRegistryHook(mlflow_conn_id="compat").get_conn()

    with pytest.raises(Recorded):
        CLIENT_CALLS[request_name](client)
    assert seen[-1] == request_name


#: Internals of the installed MLflow that the tests below delete, each standing for a future
#: client release that renamed or dropped it (MLflow itself stays real; only the attribute goes).
SIMULATED_MISSING_INTERNALS = {
    "registry client accessor": ("mlflow.tracking.client", "MlflowClient", "_get_registry_client"),
    "HTTP sender": ("mlflow.utils.rest_utils", None, "http_request"),
    "retry codes": ("mlflow.utils.request_utils", None, "_TRANSIENT_FAILURE_RESPONSE_CODES"),
}


@pytest.mark.compat
@pytest.mark.parametrize("internal", sorted(SIMULATED_MISSING_INTERNALS))
def test_client_lacking_an_internal_fails_on_first_client_naming_versions_and_pin(
    internal: str,
    unused_port: int,
    use_connection: UseConnection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib

    from mlflow.version import VERSION

    from airflow_mlflow_registry.exceptions import UnsupportedMlflowClientError
    from airflow_mlflow_registry.hooks import registry_calls
    from airflow_mlflow_registry.hooks.client.mlflow_compat import NEWEST_TESTED_CLIENT

    module_name, class_name, attribute = SIMULATED_MISSING_INTERNALS[internal]
    owner = importlib.import_module(module_name)
    if class_name is not None:
        owner = getattr(owner, class_name)
    monkeypatch.delattr(owner, attribute)
    # A fresh process as far as the provider knows: the check runs before the first client.
    monkeypatch.setattr(registry_calls, "_mlflow_loaded", False)
    use_connection("compat", f"http://127.0.0.1:{unused_port}", max_retries=0, timeout=2)

    with pytest.raises(UnsupportedMlflowClientError) as raised:
        MlflowRegistryHook(mlflow_conn_id="compat").get_conn()

    message = str(raised.value)
    path = ".".join(part for part in (module_name, class_name, attribute) if part)
    assert path in message
    assert f"mlflow-skinny {VERSION}" in message
    assert f"`mlflow-skinny<={NEWEST_TESTED_CLIENT}`" in message


@pytest.mark.compat
def test_client_whose_registry_client_attribute_moved_fails_on_first_client(
    unused_port: int, use_connection: UseConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future client that caches its registry client under another name would silently
    ignore the bound one (and send with MLflow's environment credentials): refused instead."""
    from mlflow import MlflowClient

    from airflow_mlflow_registry.exceptions import UnsupportedMlflowClientError
    from airflow_mlflow_registry.hooks import registry_calls

    def registry_client_cached_elsewhere(client: MlflowClient) -> Any:
        if getattr(client, "_registry_client_v2", None) is None:
            client._registry_client_v2 = object()  # type: ignore[attr-defined]
        return client._registry_client_v2  # type: ignore[attr-defined]

    monkeypatch.setattr(MlflowClient, "_get_registry_client", registry_client_cached_elsewhere)
    monkeypatch.setattr(registry_calls, "_mlflow_loaded", False)
    use_connection("compat", f"http://127.0.0.1:{unused_port}", max_retries=0, timeout=2)

    with pytest.raises(UnsupportedMlflowClientError, match=r"MlflowClient\._registry_client_lazy"):
        MlflowRegistryHook(mlflow_conn_id="compat").get_conn()


@pytest.mark.compat
def test_installed_client_has_every_internal_the_binding_uses() -> None:
    from airflow_mlflow_registry.hooks.client.mlflow_compat import require_binding_internals

    require_binding_internals()  # raises UnsupportedMlflowClientError naming what is missing
