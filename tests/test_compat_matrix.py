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

"""What the package declares follows the compatibility matrix.

The matrix is ``.ci/matrix/entries.txt`` (run by ``.ci/matrix.sh``): pinned entries, and two
canaries that resolve the newest Airflow and mlflow-skinny at run time (the newest final
Airflow, and the newest Airflow pre-releases included). The declared policy:
each lower bound is the lowest release a pinned entry runs; the upper bound is the next major
(a release known to break would get its own cap, and this test would name it). These tests
fail when ``pyproject.toml``'s ranges, its Python classifiers, the documented compatibility table
or a committed pin file drift from the matrix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parent.parent
MATRIX_DIR = REPO_ROOT / ".ci" / "matrix"
# The canaries' Airflow: the newest final release, the newest with pre-releases.
CANARY_AIRFLOWS = ("newest", "newest-pre")


@dataclass(frozen=True)
class MatrixEntry:
    name: str
    python: str
    airflow: str
    mlflow_skinny: str
    resolution: str
    as_of: str

    @property
    def is_canary(self) -> bool:
        """Resolved to the newest releases when the matrix runs, not pinned."""
        return self.airflow in CANARY_AIRFLOWS


def matrix_entries() -> list[MatrixEntry]:
    """The entries of ``.ci/matrix/entries.txt``, in file order."""
    lines = (MATRIX_DIR / "entries.txt").read_text().splitlines()
    return [MatrixEntry(*line.split()) for line in lines if line.strip() and line[0] != "#"]


def pinned_entries() -> list[MatrixEntry]:
    """The entries with a committed pin file (every entry but the canaries)."""
    return [entry for entry in matrix_entries() if not entry.is_canary]


def canaries() -> list[MatrixEntry]:
    """The canary entries, in file order."""
    return [entry for entry in matrix_entries() if entry.is_canary]


def declared_range(versions: list[str]) -> SpecifierSet:
    """``>=lowest,<next major after the highest``: the policy for a dependency the pinned
    entries run at ``versions``."""
    parsed = sorted(Version(version) for version in versions)
    lowest, highest = parsed[0], parsed[-1]
    return SpecifierSet(f">={lowest},<{highest.major + 1}")


def python_range(versions: list[str]) -> SpecifierSet:
    """``>=lowest,<next minor after the highest``: the Pythons the matrix runs."""
    parsed = sorted(Version(version) for version in versions)
    lowest, highest = parsed[0], parsed[-1]
    return SpecifierSet(f">={lowest},<{highest.major}.{highest.minor + 1}")


def pyproject() -> dict:
    import tomllib  # Python 3.11+: this module is not part of the `compat` set run on 3.10

    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["project"]


def test_matrix_covers_every_python_and_the_lowest_and_newest_client() -> None:
    entries = matrix_entries()
    assert {entry.python for entry in entries} == {"3.10", "3.11", "3.12", "3.13"}
    assert len({entry.name for entry in entries}) == len(entries)
    assert any(entry.resolution == "lowest-direct" for entry in entries)


def test_matrix_has_a_final_and_a_pre_release_canary_on_the_newest_python() -> None:
    assert [canary.airflow for canary in canaries()] == list(CANARY_AIRFLOWS)
    pythons = sorted({entry.python for entry in matrix_entries()}, key=Version)
    for canary in canaries():
        assert (canary.mlflow_skinny, canary.resolution, canary.as_of) == (
            "newest",
            "highest",
            "run-time",
        )
        assert canary.python == pythons[-1]
        assert not (MATRIX_DIR / f"{canary.name}.txt").exists()


def test_each_pinned_pre_release_is_on_the_pre_release_canarys_python() -> None:
    """So the canary's run is shared with the entry while nothing newer is out."""
    (pre_canary,) = (canary for canary in canaries() if canary.airflow == "newest-pre")
    pre_releases = [entry for entry in pinned_entries() if Version(entry.airflow).is_prerelease]
    assert pre_releases
    assert {entry.python for entry in pre_releases} == {pre_canary.python}


def test_pyproject_declares_the_matrix_floor_and_the_next_major() -> None:
    entries = pinned_entries()
    project = pyproject()
    requirements = {Requirement(text).name: Requirement(text) for text in project["dependencies"]}
    assert requirements["apache-airflow"].specifier == declared_range(
        [entry.airflow for entry in entries]
    )
    assert requirements["mlflow-skinny"].specifier == declared_range(
        [entry.mlflow_skinny for entry in entries]
    )
    assert SpecifierSet(project["requires-python"]) == python_range(
        [entry.python for entry in matrix_entries()]
    )
    classified = {
        classifier.rsplit(" :: ", 1)[1]
        for classifier in project["classifiers"]
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", classifier)
    }
    assert classified == {entry.python for entry in entries}


def documented_matrix_rows(text: str) -> list[list[str]]:
    """The rows of the list-table after the ``.. compat-matrix`` comment of an RST page."""
    table = text.split(".. compat-matrix")[1].split("\n\n", 2)[2]
    rows: list[list[str]] = []
    for line in table.splitlines():
        if not line.strip():
            break
        cell = line.strip().removeprefix("* ").removeprefix("- ").strip("`")
        if line.strip().startswith("* - "):
            rows.append([cell])
        else:
            rows[-1].append(cell)
    return rows[1:]  # without the header row


def test_documented_compatibility_table_is_the_matrix() -> None:
    page = (REPO_ROOT / "docs" / "installation.rst").read_text()
    expected = [
        [entry.airflow, entry.mlflow_skinny, entry.python, entry.resolution, entry.as_of]
        for entry in pinned_entries()
    ]
    rows = documented_matrix_rows(page)
    assert rows[: len(expected)] == expected
    # The canaries' rows: what each resolved and how it did on the day it was last recorded.
    for canary, row in zip(canaries(), rows[len(expected) :], strict=True):
        airflow_cell, skinny_cell, python_cell, resolution_cell, as_of_cell = row
        assert airflow_cell.startswith(
            "newest pre-release" if canary.airflow == "newest-pre" else "newest ("
        )
        assert skinny_cell.startswith("newest")
        assert (python_cell, resolution_cell) == (canary.python, canary.resolution)
        assert re.search(r"\b(passed|failed) on \d{4}-\d{2}-\d{2}\b", as_of_cell), as_of_cell
    project = pyproject()
    for text in project["dependencies"]:
        if Requirement(text).name in {"apache-airflow", "mlflow-skinny"}:
            assert f"``{text}``" in page
    assert f'``requires-python = "{project["requires-python"]}"``' in page


def test_each_pin_file_pins_its_entry_and_names_its_generator() -> None:
    for entry in pinned_entries():
        pins = (MATRIX_DIR / f"{entry.name}.txt").read_text()
        lines = set(pins.splitlines())
        assert f"apache-airflow=={entry.airflow}" in lines, entry.name
        assert f"mlflow-skinny=={entry.mlflow_skinny}" in lines, entry.name
        assert f"#    bash .ci/matrix/compile.sh {entry.name}" in lines, entry.name


def pinned_versions(entry: MatrixEntry) -> dict[str, Version]:
    """``{canonical name: version}`` of every ``name==version`` line of the entry's pin file."""
    pins = (MATRIX_DIR / f"{entry.name}.txt").read_text().splitlines()
    pairs = (line.split("==", 1) for line in pins if "==" in line and line[0] != "#")
    return {canonicalize_name(name): Version(version) for name, version in pairs}


def test_each_pin_file_keeps_the_bounds_its_airflow_minor_needs() -> None:
    checked = set()
    for entry in pinned_entries():
        minor = entry.airflow.rsplit(".", 1)[0]
        bounds_file = MATRIX_DIR / f"airflow-{minor}-constraints.txt"
        if not bounds_file.exists():
            continue
        pins = pinned_versions(entry)
        for line in bounds_file.read_text().splitlines():
            if line.strip() and line[0] != "#":
                bound = Requirement(line)
                assert pins[canonicalize_name(bound.name)] in bound.specifier, (entry.name, line)
                checked.add(entry.name)
    # Airflow 3.0's task SDK needs FastAPI < 0.132 (apache/airflow#63209): both 3.0 entries.
    assert checked >= {entry.name for entry in pinned_entries() if entry.airflow.startswith("3.0.")}


def test_unsupported_client_error_names_the_newest_client_the_matrix_pins() -> None:
    from airflow_mlflow_registry.hooks.client.mlflow_compat import NEWEST_TESTED_CLIENT

    newest = max(Version(entry.mlflow_skinny) for entry in pinned_entries())
    assert Version(NEWEST_TESTED_CLIENT) == newest
