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

"""The documentation under docs/ cannot drift from the code: every included section exists,
every operator, sensor and trigger guide's parameter table names exactly the class's
``__init__`` parameters (and marks exactly its templated fields), code that shows a DAG or an
operator call is included from a file that runs, and the version is the same everywhere. Fast:
no server, no Sphinx build (``.ci/docs.sh`` builds the HTML with warnings as errors)."""

from __future__ import annotations

import importlib
import inspect
import re
from typing import TYPE_CHECKING

import pytest

from airflow_mlflow_registry.get_provider_info import get_provider_info
from tests.conftest import REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

DOCS = REPO_ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.rst"))
INCLUDE = re.compile(
    r"^(?P<indent> *)\.\. literalinclude:: (?P<path>\S+)\n(?P<options>(?:(?P=indent) +:.*\n)+)",
    re.MULTILINE,
)
LABEL = re.compile(r"^\.\. _howto/(?:operator|sensor|trigger):(\w+):$", re.MULTILINE)


def includes(page: Path) -> list[tuple[Path, str, str]]:
    """``(file, start marker, end marker)`` of each ``literalinclude`` on ``page``."""
    found = []
    for match in INCLUDE.finditer(page.read_text()):
        options = dict(re.findall(r"^ +:([\w-]+):(?: (.*))?$", match["options"], re.MULTILINE))
        target = (
            DOCS / match["path"].lstrip("/")
            if match["path"].startswith("/")
            else page.parent / match["path"]
        )
        found.append(
            (target.resolve(), options.get("start-after", ""), options.get("end-before", ""))
        )
    return found


def test_every_included_file_and_marker_exists_in_order() -> None:
    checked = 0
    for page in PAGES:
        for target, start, end in includes(page):
            where = f"{page.relative_to(REPO_ROOT)} includes {target}"
            assert target.is_file(), where
            text = target.read_text()
            assert start and end, f"{where} without :start-after: and :end-before:"
            assert text.count(start) == 1 and text.count(end) == 1, f"{where}: {start} / {end}"
            assert text.index(start) < text.index(end), where
            checked += 1
    assert checked >= 20


def test_no_page_types_a_dag_or_an_operator_call() -> None:
    """Python shown on a page comes from a file that runs (``literalinclude``), never typed."""
    typed = re.compile(r"\.\. code-block:: python\n((?:\n| {4,}.*\n)+)")
    call = re.compile(r"(Operator|Sensor|Trigger|AssetWatcher)\(|@dag\b|\bDAG\(")
    for page in PAGES:
        for block in typed.findall(page.read_text()):
            assert not call.search(block), f"{page.relative_to(REPO_ROOT)}:\n{block}"


def test_user_pages_do_not_mention_tests_tiers_or_ci_timings() -> None:
    contributor_matter = re.compile(
        r"tests/|test_\w+\.py|pytest|\btiers?\b|\.ci/(?:run|test\.sh|e2e|stack|matrix)"
    )
    for page in PAGES:
        hits = contributor_matter.findall(page.read_text())
        assert not hits, f"{page.relative_to(REPO_ROOT)} mentions {hits}"


def guided_classes() -> list[type]:
    """Every operator, sensor and trigger class the provider declares to Airflow."""
    info = get_provider_info()
    classes = []
    for kind in ("operators", "sensors", "triggers"):
        for entry in info.get(kind, []):
            for module_name in entry["python-modules"]:
                module = importlib.import_module(module_name)
                classes += [
                    cls
                    for _, cls in inspect.getmembers(module, inspect.isclass)
                    if cls.__module__ == module_name and not cls.__name__.startswith("_")
                ]
    return classes


def guide_pages() -> dict[str, Path]:
    """Class name to the page that carries its ``.. _howto/operator:<Class>:`` label."""
    pages = {}
    for page in PAGES:
        for name in LABEL.findall(page.read_text()):
            pages[name] = page
    return pages


def parameter_rows(page: Path) -> dict[str, str]:
    """Parameter name to its "Templated" cell, from the list-table of the page's
    ``Parameters`` section (columns: Parameter, Default, Templated, Meaning)."""
    section = page.read_text().split("\nParameters\n----------\n", 1)[1]
    section = re.split(r"\n\S.*\n-{3,}\n", section, maxsplit=1)[0]
    rows = re.findall(r"^ +\* - ``(\w+)``\n +- .*\n +- (.*)$", section, re.MULTILINE)
    return dict(rows)


@pytest.mark.parametrize("cls", guided_classes(), ids=lambda cls: cls.__name__)
def test_guide_parameter_table_names_every_init_parameter_and_templated_field(cls: type) -> None:
    page = guide_pages().get(cls.__name__)
    assert page, f"no docs page with the label '.. _howto/...:{cls.__name__}:'"
    rows = parameter_rows(page)
    parameters = {
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
    }
    assert set(rows) == parameters, page.relative_to(REPO_ROOT)
    templated = set(getattr(cls, "template_fields", ()))
    assert templated <= parameters
    marked = {name for name, cell in rows.items() if cell.startswith("yes")}
    assert marked == templated, page.relative_to(REPO_ROOT)


def test_version_is_the_same_in_pyproject_package_provider_info_metadata_and_changelog() -> None:
    import importlib.metadata

    import tomllib  # Python 3.11+: not part of the `compat` set run on 3.10

    from airflow_mlflow_registry import __version__

    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert __version__ == declared
    assert get_provider_info()["versions"][0] == declared
    assert importlib.metadata.version("airflow-mlflow-registry") == declared
    changelog = (DOCS / "changelog.rst").read_text()
    [first_release] = re.findall(
        r"^(\d+\.\d+\.\d+\S*)(?: \(unreleased\))?\n-+$", changelog, re.MULTILINE
    )[:1]
    assert first_release == declared


def test_user_pages_speak_of_what_users_can_rely_on_not_of_our_checkout_or_version() -> None:
    """No page names the repository's CI scripts or says what was "not tried here", and no page
    but the changelog writes out the version (the sample ``providers list`` output would go
    stale with every release)."""
    import tomllib

    version = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    ours = re.compile(r"\.ci/|not (?:tried|tested) here", re.IGNORECASE)
    for page in PAGES:
        text = page.read_text()
        where = page.relative_to(REPO_ROOT)
        assert not ours.findall(text), f"{where} mentions {ours.findall(text)}"
        if page.name != "changelog.rst":
            assert version not in text, f"{where} writes out {version}"


def test_backfill_page_gives_the_cli_default_concurrency_and_both_date_bounds() -> None:
    from airflow_mlflow_registry.hooks.backfill import DEFAULT_CONCURRENCY, MAX_CONCURRENCY

    text = " ".join((DOCS / "howto" / "backfill.rst").read_text().split())
    assert f"{DEFAULT_CONCURRENCY} registrations at a time" in text
    assert f"(``--concurrency``, 1 to {MAX_CONCURRENCY})" in text
    assert "``--to-date`` is inclusive" in text
    assert "``--to`` is exclusive" in text


def test_alias_result_ties_previous_metric_value_to_require_improvement() -> None:
    text = " ".join((DOCS / "operators" / "set_model_version_alias.rst").read_text().split())
    [sentence] = [part for part in text.split(". ") if "``previous_metric_value``" in part]
    assert "with ``require_improvement`` also ``previous_metric_value``" in sentence


def test_example_dag_docs_point_only_at_readme_sections_that_exist() -> None:
    headings = set(re.findall(r"^#+ (.+)$", (REPO_ROOT / "README.md").read_text(), re.MULTILINE))
    checked = 0
    for path in sorted((REPO_ROOT / "example_dags").glob("*.py")):
        text = " ".join(path.read_text().split())
        for section in re.findall(r"README's \"([^\"]+)\"", text):
            assert section in headings, f"{path.name} points at the README's {section!r}"
        for page in re.findall(r"``(docs/[\w/]+\.rst)``", text):
            assert (REPO_ROOT / page).is_file(), f"{path.name} points at {page}"
            checked += 1
    assert checked >= 1


def test_vault_example_stores_a_connection_the_hook_accepts() -> None:
    import json
    import shlex

    from airflow.models.connection import Connection

    from airflow_mlflow_registry.hooks.client.connection_config import MlflowConnectionConfig

    text = (DOCS / "connections" / "mlflow.rst").read_text()
    [command] = [line.strip() for line in text.splitlines() if "vault kv put" in line]
    words = shlex.split(command)
    assert words[3] == "airflow/connections/mlflow_default"
    fields = dict(word.split("=", 1) for word in words[4:])
    kwargs = json.loads(text.split("AIRFLOW__SECRETS__BACKEND_KWARGS='", 1)[1].split("'", 1)[0])
    assert f"{kwargs['mount_point']}/{kwargs['connections_path']}/" in words[3]
    config = MlflowConnectionConfig.from_connection(Connection(conn_id="mlflow_default", **fields))
    assert config.tracking_uri == "https://mlflow.example.com"
    assert config.ca_bundle_path == "/opt/airflow/certs/private-ca.pem"
