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

"""The alias timeline page (issue 26, item 10) in the shared Airflow deployment: its
api-server mounts the plugin, reads the ledger through ``mlflow_default`` and checks signatures
with the deployment's signing secret. A reviewer opens it from the Airflow UI in headless
Chromium; requests without a valid Airflow login are refused.

The model's ledger: ``champion`` set, approved to v2 by two people, rolled back to v1, a
forged entry whose ``by`` and ``why`` carry a script and an image; ``staging`` set once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_mlflow_registry.alias_ledger import LEDGER_TAG_PREFIX, MoveKind
from airflow_mlflow_registry.hooks import MlflowRegistryHook
from airflow_mlflow_registry.hooks.aliases import MoveReason
from airflow_mlflow_registry.plugins.alias_timeline import UI_ROUTE, URL_PREFIX
from tests.support.airflow_env import SIGNING_SECRET, connection_env_var, connection_json
from tests.support.browser import chromium_page
from tests.support.model_versions import add_version, unique

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tests.support.airflow_deployment import AirflowDeployment
    from tests.support.mlflow_server import MlflowServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

#: Set to a directory to keep the page's screenshot there (the docs' image).
SCREENSHOT_DIR_ENV = "ALIAS_TIMELINE_SCREENSHOT_DIR"
ATTACKER = "attacker.example"
HOSTILE_BY = "<script>window.__pwned = 'script'</script>mallory"
HOSTILE_WHY = f"<img src=https://{ATTACKER}/px.gif onerror=\"window.__pwned = 'img'\">"


@pytest.fixture(scope="module")
def model(airflow_deployment: AirflowDeployment, mlflow_server: MlflowServer) -> str:
    """A model whose ledger holds provider moves (signed with the deployment's secret, which
    this process has too, as a task would) and one forged entry."""
    client = mlflow_server.client()
    name = unique("timeline")
    for _ in range(3):
        add_version(client, name)
    with pytest.MonkeyPatch.context() as env:
        env.setenv(connection_env_var("mlflow_default"), connection_json(mlflow_server.url))
        hook = MlflowRegistryHook()
        hook.set_model_version_alias(name, "champion", "1")
        approvers = MoveReason(MoveKind.APPROVAL, {"approvers": "admin, reviewer"})
        hook.set_model_version_alias(name, "champion", "2", approvers)
        rollback = MoveReason(MoveKind.ROLLBACK, {"reason": "post-promotion check failed"})
        hook.set_model_version_alias(name, "champion", "1", rollback)
        hook.set_model_version_alias(name, "staging", "3")
    forge_entry(client, name)
    return name


def forge_entry(client: MlflowClient, model: str) -> None:
    """A registry user's ledger tag: the first entry's record and signature copied, claiming
    a move of `champion` to v3 by ``HOSTILE_BY`` because of ``HOSTILE_WHY``."""
    tags = client.get_registered_model(model).tags
    records = [json.loads(v) for k, v in tags.items() if k.startswith(LEDGER_TAG_PREFIX)]
    records.sort(key=lambda record: record["at"])
    forged = {**records[0], "to": "3", "from": "1", "by": HOSTILE_BY, "why": {"note": HOSTILE_WHY}}
    forged["at"] = records[-1]["at"] + 1000  # a second after the last move: the newest entry
    client.set_registered_model_tag(
        model, f"{LEDGER_TAG_PREFIX}{forged['at']:013d}.forged00", json.dumps(forged)
    )


def page_url(deployment: AirflowDeployment, model: str) -> str:
    return f"{deployment.url}{URL_PREFIX}/?conn_id=mlflow_default&model={model}"


def test_requests_without_a_valid_airflow_login_are_refused(
    airflow_deployment: AirflowDeployment, model: str
) -> None:
    url = page_url(airflow_deployment, model)
    anonymous = requests.get(url, timeout=60)
    assert anonymous.status_code == 401, anonymous.text
    assert model not in anonymous.text
    forged_token = requests.get(url, headers={"Authorization": "Bearer x.y.z"}, timeout=60)
    assert forged_token.status_code in (401, 403), forged_token.text
    assert model not in forged_token.text
    forged_cookie = requests.get(url, cookies={"_token": "x.y.z"}, timeout=60)
    assert forged_cookie.status_code in (401, 403), forged_cookie.text
    # A logged-in user gets the timeline; the secret that checked it is nowhere in it.
    answer = airflow_deployment.api("reviewer").get(url, timeout=60)
    assert answer.status_code == 200, answer.text
    assert "TAMPERED" in answer.text and SIGNING_SECRET not in answer.text
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]


@pytest.mark.browser
def test_reviewer_sees_who_moved_champion_and_why_with_the_forged_entry_flagged(
    airflow_deployment: AirflowDeployment,
    mlflow_server: MlflowServer,
    model: str,
    tmp_path: Path,
) -> None:
    with chromium_page(tmp_path / "chromium-profile", height=1000) as page:
        check_timeline_page(airflow_deployment, mlflow_server.url, model, page, tmp_path)


def check_timeline_page(
    deployment: AirflowDeployment, mlflow_url: str, model: str, page: Any, tmp_path: Path
) -> None:
    """As the reviewer in ``page``: open the timeline from the UI's Browse menu, ask for
    ``model`` and check what the page shows, runs and loads; keep a screenshot."""
    requested: list[str] = []
    dialogs: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    deployment.log_in(page, "reviewer")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="MLflow alias timeline").click()
    frame = page.frame_locator("iframe")
    frame.locator("input[name=model]").fill(model)
    assert f"/plugin/{UI_ROUTE}" in page.url, page.url  # framed in the UI
    frame.get_by_role("button", name="Show timeline").click()
    champion = frame.locator("section[data-alias=champion]")
    champion.wait_for()

    rows = champion.locator("tbody tr")
    assert rows.count() == 4
    statuses = [rows.nth(i).get_attribute("data-status") for i in range(4)]
    assert statuses == ["verified", "verified", "verified", "tampered"]
    cells = [[c.strip() for c in rows.nth(i).locator("td").all_inner_texts()] for i in range(4)]
    # Move, kind, by, why, signature: who and why of each move.
    assert [(c[1], c[2]) for c in cells] == [
        ("(none) → v1", "set_alias"),
        ("v1 → v2", "approval"),
        ("v2 → v1", "rollback"),
        ("v1 → v3", "set_alias"),
    ]
    assert cells[1][4] == "approvers: admin, reviewer"
    assert cells[2][4] == "reason: post-promotion check failed"
    assert all(c[3].startswith("cli:") for c in cells[:3])
    # The forged entry: flagged, its hostile text shown as written, nothing run or loaded.
    assert cells[3][5] == "TAMPERED — not trusted"
    assert cells[3][3] == HOSTILE_BY and cells[3][4] == f"note: {HOSTILE_WHY}"
    assert champion.locator("img, script").count() == 0
    assert "points at version v1 by its last trusted entry" in champion.inner_text()
    inner = page.locator("iframe").element_handle().content_frame()
    assert URL_PREFIX in inner.url
    assert inner.evaluate("() => window.__pwned") is None
    assert not dialogs and not [url for url in requested if ATTACKER in url], requested
    links = inner.eval_on_selector_all("a[href]", "nodes => nodes.map(n => n.href)")
    assert links and all(link.startswith(f"{mlflow_url}/#/models/") for link in links), links
    assert frame.locator("section[data-alias=staging] tbody tr").count() == 1

    screenshot = tmp_path / "alias-timeline.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get(SCREENSHOT_DIR_ENV):
        shutil.copy(screenshot, Path(os.environ[SCREENSHOT_DIR_ENV]) / screenshot.name)
