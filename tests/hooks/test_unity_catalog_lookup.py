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

"""The exactly-once look-up against a Unity Catalog registry (``databricks-uc``, the default
for a ``databricks`` tracking URI), through MLflow's own Unity Catalog store.

Mock, because no Unity Catalog service can run here: only the final HTTP call
(``requests.Session.request``) is intercepted; everything above it (the hook, ``MlflowClient``,
MLflow's ``UcModelRegistryStore`` with its client-side checks such as rejecting ``order_by``,
its request building and its parsing into ``ModelVersionSearch`` objects whose ``tags`` cannot
be read) is the real code. The fake service answers like Unity Catalog does for version
searches: a filter must be a single ``name = '...'`` or ``run_id = '...'`` condition (anything
else: 400 ``INVALID_PARAMETER_VALUE``), and search results carry no tags or aliases.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest
import requests

from airflow_mlflow_registry.exceptions import UnsupportedByRegistryError
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.version_creation import find_model_versions_by_key
from airflow_mlflow_registry.lineage import REGISTRATION_KEY_TAG

if TYPE_CHECKING:
    from tests.conftest import UseConnection

MODEL = "main.ml.churn"
KEY = "a" * 64
OTHER_KEY = "b" * 64
SINGLE_CONDITION = re.compile(r"\s*(name|run_id)\s*=\s*'([^']*)'\s*")
SEARCH_PATH = "/api/2.0/mlflow/unity-catalog/model-versions/search"
GET_PATH = "/api/2.0/mlflow/unity-catalog/model-versions/get"


def uc_version(name: str, version: int, run_id: str, key: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": str(version),
        "creation_timestamp": 1_790_000_000_000 + version,
        "source": f"runs:/{run_id}/model",
        "run_id": run_id,
        "status": "READY",
        "tags": [{"key": REGISTRATION_KEY_TAG, "value": key}],
        "aliases": [],
    }


class FakeUnityCatalog:
    """Answers the Unity Catalog model-version search and get endpoints from ``versions``,
    and records each request as (path, query or body)."""

    def __init__(self, versions: list[dict[str, Any]]) -> None:
        self.versions = versions
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        path = urlparse(url).path
        arguments = dict(kwargs.get("params") or kwargs.get("json") or {})
        self.requests.append((path, arguments))
        if path == SEARCH_PATH:
            condition = SINGLE_CONDITION.fullmatch(arguments.get("filter") or "")
            if condition is None:
                return reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "filter"})
            field, value = condition.groups()
            found = [v for v in self.versions if str(v[field]) == value]
            return reply(200, {"model_versions": [searched(v) for v in found]})
        if path == GET_PATH:
            for version in self.versions:
                if (version["name"], str(version["version"])) == (
                    arguments["name"],
                    str(arguments["version"]),
                ):
                    return reply(200, {"model_version": version})
            return reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no version"})
        return reply(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": path})


def searched(version: dict[str, Any]) -> dict[str, Any]:
    """A version as Unity Catalog's search returns it: without tags and aliases."""
    return {k: v for k, v in version.items() if k not in ("tags", "aliases")}


def reply(status: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    return response


@pytest.fixture
def unity_catalog(
    monkeypatch: pytest.MonkeyPatch, use_connection: UseConnection
) -> tuple[MlflowRegistryHook, FakeUnityCatalog]:
    """A hook on a ``databricks`` connection (registry: Unity Catalog) whose HTTP requests are
    answered by a :class:`FakeUnityCatalog` holding versions 1 and 2 of ``MODEL`` (run r1; keys
    ``KEY`` and ``OTHER_KEY``), version 3 (run r2, ``KEY``) and a version of another model."""
    service = FakeUnityCatalog(
        [
            uc_version(MODEL, 1, "r1", KEY),
            uc_version(MODEL, 2, "r1", OTHER_KEY),
            uc_version(MODEL, 3, "r2", KEY),
            uc_version("main.ml.other", 1, "r1", KEY),
        ]
    )
    monkeypatch.setattr(
        requests.Session,
        "request",
        lambda session, method, url, **kwargs: service.request(method, url, **kwargs),
    )
    use_connection(
        "uc",
        "databricks",
        databricks_host="https://adb-1234.5.azuredatabricks.net",
        token="dapi-not-a-real-token",
        max_retries=0,
    )
    return MlflowRegistryHook(mlflow_conn_id="uc"), service


def test_unity_catalog_lookup_searches_by_run_id_and_reads_each_candidate(
    unity_catalog: tuple[MlflowRegistryHook, FakeUnityCatalog],
) -> None:
    hook, service = unity_catalog
    found = find_model_versions_by_key(hook.registry_calls, MODEL, KEY, run_id="r1")
    assert [(mv.name, mv.version) for mv in found] == [(MODEL, "1")]
    assert found[0].tags[REGISTRATION_KEY_TAG] == KEY
    assert service.requests[0] == (SEARCH_PATH, {"filter": "run_id = 'r1'", "max_results": 500})
    # Only this model's versions from run r1 are read, one request each.
    assert sorted(arguments["version"] for path, arguments in service.requests[1:]) == ["1", "2"]
    assert {path for path, _ in service.requests[1:]} == {GET_PATH}


def test_unity_catalog_lookup_without_a_run_id_searches_by_name(
    unity_catalog: tuple[MlflowRegistryHook, FakeUnityCatalog],
) -> None:
    hook, service = unity_catalog
    found = find_model_versions_by_key(hook.registry_calls, MODEL, KEY, run_id=None)
    assert [mv.version for mv in found] == ["1", "3"]
    assert service.requests[0] == (SEARCH_PATH, {"filter": f"name = '{MODEL}'", "max_results": 500})
    assert len(service.requests) == 1 + 3  # the search, then one read per version of MODEL


def test_watching_new_versions_is_refused_on_unity_catalog_before_any_request(
    unity_catalog: tuple[MlflowRegistryHook, FakeUnityCatalog],
) -> None:
    """The registry event trigger's new-version mode needs an ordered search: refused with the
    alternative named, instead of MLflow's order_by error on every poll."""
    hook, service = unity_catalog
    with pytest.raises(UnsupportedByRegistryError) as refused:
        hook.find_versions_after(MODEL, 0, newest_first=True)
    message = str(refused.value)
    assert f"Watching new versions of model {MODEL!r}" in message
    assert "Unity Catalog" in message
    assert "MlflowRegistryEventTrigger(alias=...)" in message
    assert service.requests == []


def test_version_search_is_refused_on_unity_catalog_before_any_request(
    unity_catalog: tuple[MlflowRegistryHook, FakeUnityCatalog],
) -> None:
    """Searching versions newest first (the hook's search, retention, backfill) needs an
    ordered search: refused as unsupported, naming the search."""
    hook, service = unity_catalog
    with pytest.raises(UnsupportedByRegistryError, match="not supported there") as refused:
        hook.search_model_versions(MODEL, tags={"stage": "ci"})
    assert f"name = '{MODEL}'" in str(refused.value)
    assert "Unity Catalog" in str(refused.value)
    assert service.requests == []
