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

"""README.md is the package's front page (its PyPI description): short, and the DAG it shows is
the example DAG's section, not a second copy that could drift."""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
MARKER = re.compile(r"^\s*# \[(START|END) \w+\]$")


def example_section(path: str, name: str) -> str:
    """The lines between ``# [START name]`` and ``# [END name]`` of ``path``, without the
    marker lines of nested sections (the docs include those sections separately)."""
    text = (REPO_ROOT / path).read_text()
    section = text.split(f"# [START {name}]\n", 1)[1].split(f"# [END {name}]", 1)[0]
    return "\n".join(line for line in section.splitlines() if not MARKER.match(line)).strip()


def test_readme_dag_is_the_champion_example_section() -> None:
    [shown] = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
    assert shown.strip() == example_section(
        "example_dags/champion_if_better.py", "champion_if_better"
    )


def test_readme_is_a_short_front_page_with_the_two_commands_and_the_docs() -> None:
    assert len(README.splitlines()) <= 200
    for command in ("bash .ci/example.sh", "bash .ci/test.sh", "bash .ci/docs.sh"):
        assert command in README
    contributor_matter = re.compile(
        r"tests/|test_\w+\.py|pytest -|\btiers?\b|\.ci/(?:run|e2e|stack|matrix)"
    )
    assert not contributor_matter.findall(README)
    for link in re.findall(r"\]\(((?:docs/|CONTRIBUTING|benchmarks/)[^)#]*)\)", README):
        assert (REPO_ROOT / link).exists(), link
