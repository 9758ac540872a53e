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

"""What Airflow's own plugins manager makes of one of our FastAPI plugins: listed with its
prefix, and mounted by the api-server's ``init_plugins`` at that prefix."""

from __future__ import annotations

from typing import Any


def assert_listed_and_mounted_at(plugin: Any, url_prefix: str) -> None:
    """Assert that Airflow lists ``plugin``'s one FastAPI app at ``url_prefix`` and that the
    api-server mounts exactly that app there.

    :param plugin: the ``AirflowPlugin`` subclass with a single entry in ``fastapi_apps``.
    :param url_prefix: the prefix the plugin declares.
    :raises AssertionError: the plugin is not listed, lists another prefix, or another app (or
        none) is mounted at the prefix.
    """
    from airflow import plugins_manager
    from airflow.api_fastapi.app import init_plugins
    from fastapi import FastAPI

    listed = {
        info["name"]: info
        for info in plugins_manager.get_plugin_info(attrs_to_dump=["fastapi_apps"])
    }
    [app_info] = listed[plugin.name]["fastapi_apps"]
    assert app_info["url_prefix"] == url_prefix
    api_server_app = FastAPI()
    init_plugins(api_server_app)
    mounted = {
        route.path: getattr(route, "app", None)
        for route in api_server_app.routes
        if route.path == url_prefix
    }
    [plugin_app] = (app["app"] for app in plugin.fastapi_apps)
    assert mounted == {url_prefix: plugin_app}
