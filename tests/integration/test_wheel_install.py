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

"""The install path the documentation gives until the first release, run as a user would: from
the checkout ``uv build`` makes an sdist and a wheel, ``twine check --strict`` (pinned in
``.ci/release-tools.txt``, as the release workflow runs it) passes both, the wheel goes into a
fresh venv with Airflow pinned by a constraints file, and ``airflow dags test`` runs the
registering example DAG from that venv against a local SQLite MLflow store, as ``bash
.ci/example.sh`` does from the checkout.

The constraints are the repository's pinned set (``.ci/constraints.txt``, Airflow 3.3.2): a
user would pass Airflow's published constraints file for their versions, which cannot be
downloaded here. The venv gets the wheel with its declared dependencies plus what the example
needs for a local store and its training task (``mlflow``, ``scikit-learn``, ``skops``), the
commands the installation page shows; its processes run outside the checkout, with a
throw-away ``AIRFLOW_HOME`` and a copy of the example DAG file.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.airflow_env import connection_json

# Building, installing and a first `airflow db migrate` take minutes on a busy 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.wheel, pytest.mark.timeout(1200)]

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
PACKAGE = "airflow-mlflow-registry"
DOCKERFILE = REPO_ROOT / "docs" / "snippets" / "Dockerfile"
INSTALLATION_PAGE = REPO_ROOT / "docs" / "installation.rst"
# What the installation page installs beside the wheel to run the example on a local store.
EXAMPLE_NEEDS = ["mlflow", "scikit-learn", "skops"]


@dataclass(frozen=True)
class BuiltDistributions:
    """The sdist and the wheel ``uv build`` wrote into ``workdir / "dist"``."""

    sdist: Path
    wheel: Path
    workdir: Path


@dataclass(frozen=True)
class InstalledWheel:
    """A fresh venv with the built wheel installed (``bin`` is its scripts)."""

    wheel: Path
    bin: Path
    workdir: Path


def run(command: list[str | Path], *, env: dict[str, str] | None = None, cwd: Path, timeout: int):
    """Run ``command``; fail the test with its output unless it exits 0."""
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, (
        f"{command} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def new_venv(path: Path) -> Path:
    """Create an empty venv at ``path`` with this interpreter; return its ``bin``."""
    run([UV, "venv", "--quiet", "--python", sys.executable, path], cwd=path.parent, timeout=120)
    return path / "bin"


def release_tool_pin(name: str) -> str:
    """The ``name==version`` line of ``.ci/release-tools.txt``."""
    text = (REPO_ROOT / ".ci" / "release-tools.txt").read_text()
    [pin] = re.findall(rf"^{re.escape(name)}==\S+$", text, re.MULTILINE)
    return pin


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> BuiltDistributions:
    """Builds the sdist and the wheel from the checkout."""
    workdir = tmp_path_factory.mktemp("wheel")
    dist = workdir / "dist"
    run([UV, "build", "--quiet", "--out-dir", dist, REPO_ROOT], cwd=workdir, timeout=300)
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    return BuiltDistributions(sdist=sdist, wheel=wheel, workdir=workdir)


@pytest.fixture(scope="module")
def installed_wheel(built: BuiltDistributions) -> InstalledWheel:
    """Installs the built wheel into a fresh venv, Airflow pinned by the constraints file."""
    bin_dir = new_venv(built.workdir / "venv")
    run(
        [
            UV,
            "pip",
            "install",
            "--quiet",
            "--python",
            bin_dir / "python",
            "--constraint",
            REPO_ROOT / ".ci" / "constraints.txt",
            "apache-airflow",
            built.wheel,
            *EXAMPLE_NEEDS,
        ],
        cwd=built.workdir,
        timeout=900,
    )
    return InstalledWheel(wheel=built.wheel, bin=bin_dir, workdir=built.workdir)


def project_version() -> str:
    """The version ``pyproject.toml`` declares: the wheel, ``airflow providers list`` and the
    docs all say this one."""
    import tomllib

    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def airflow_environment(home: Path, store: Path) -> dict[str, str]:
    """A user's environment: no test settings, no checkout on the path, a fresh home, and
    ``mlflow_default`` on a local SQLite store (the installation page's example)."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(home)),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": connection_json(f"sqlite:///{store}/mlflow.db"),
    }


def image_recipe() -> list[list[str]]:
    """The instructions between the recipe's markers, each split like a shell line (the
    continuation lines joined)."""
    text = DOCKERFILE.read_text()
    recipe = text.split("# [START image_recipe]\n", 1)[1].split("# [END image_recipe]", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", recipe)
    return [shlex.split(line) for line in joined.splitlines() if line and not line.startswith("#")]


def test_sdist_and_wheel_pass_twine_check_strict(built: BuiltDistributions) -> None:
    tools = new_venv(built.workdir / "release-tools")
    pin = release_tool_pin("twine")
    run(
        [UV, "pip", "install", "--quiet", "--python", tools / "python", pin],
        cwd=built.workdir,
        timeout=300,
    )
    result = run(
        [tools / "twine", "check", "--strict", built.sdist, built.wheel],
        cwd=built.workdir,
        timeout=120,
    )
    assert result.stdout.count("PASSED") == 2, result.stdout


def test_wheel_carries_typing_marker_entry_points_license_and_metadata(
    built: BuiltDistributions,
) -> None:
    with zipfile.ZipFile(built.wheel) as wheel:
        names = set(wheel.namelist())
        [dist_info] = {name.split("/")[0] for name in names if ".dist-info/" in name}
        metadata = wheel.read(f"{dist_info}/METADATA").decode()
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
        license_text = wheel.read(f"{dist_info}/licenses/LICENSE").decode()
    assert "airflow_mlflow_registry/py.typed" in names
    assert "airflow_mlflow_registry/version_compat.py" in names
    assert not any(name.startswith(("tests/", "example_dags/")) for name in names)
    assert "[apache_airflow_provider]\nprovider_info = " in entry_points
    assert "airflow-mlflow-registry = airflow_mlflow_registry.cli:main" in entry_points
    assert "Apache License" in license_text and "Version 2.0" in license_text
    headers = [line for line in metadata.splitlines() if ": " in line]
    assert f"Name: {PACKAGE}" in headers
    assert "License-Expression: Apache-2.0" in headers
    assert "Classifier: Framework :: Apache Airflow :: Provider" in headers
    assert any(line.startswith("Requires-Dist: apache-airflow<") for line in headers)
    assert any(line.startswith("Requires-Python: ") for line in headers)
    assert f"Version: {project_version()}" in headers
    assert "## Install" in metadata  # the README is the long description
    with tarfile.open(built.sdist) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "LICENSE", "README.md", "airflow_mlflow_registry/py.typed"} <= members


def test_container_recipe_installs_the_built_wheel_and_copies_the_ca_bundle_the_docs_name(
    built: BuiltDistributions,
) -> None:
    """No image is built here (no docker): the recipe's COPY sources are the files the build
    writes (the build context is the checkout), its pip install names what the COPY put in
    the image, and the CA bundle lands where the installation page's connection points."""
    instructions = image_recipe()
    copies = [words[-2:] for words in instructions if words[0] == "COPY"]
    [wheel_source, wheel_destination] = next(copy for copy in copies if copy[0].startswith("dist/"))
    assert fnmatch.fnmatch(f"dist/{built.wheel.name}", wheel_source)
    [install] = [words for words in instructions if words[:2] == ["RUN", "pip"]]
    installed = wheel_destination + Path(wheel_source).name
    assert installed in install
    assert fnmatch.fnmatch(wheel_destination + built.wheel.name, installed)
    assert "--constraint" in install
    [ca_destination] = [destination for source, destination in copies if source.endswith(".pem")]
    assert f'"ca_bundle_path": "{ca_destination}"' in INSTALLATION_PAGE.read_text()


def test_package_is_imported_from_the_installed_wheel_not_the_checkout(
    installed_wheel: InstalledWheel,
) -> None:
    code = (
        "import importlib.metadata as m, airflow_mlflow_registry as p; "
        f"print(p.__file__); print(m.distribution({PACKAGE!r}).read_text('direct_url.json'))"
    )
    result = run(
        [installed_wheel.bin / "python", "-c", code], cwd=installed_wheel.workdir, timeout=120
    )
    module_file, direct_url = result.stdout.splitlines()[:2]
    assert Path(module_file).is_relative_to(installed_wheel.bin.parent)
    assert json.loads(direct_url)["url"].endswith(installed_wheel.wheel.name)


def test_example_dag_registers_a_version_on_a_local_store_from_the_installed_wheel(
    installed_wheel: InstalledWheel,
) -> None:
    home = installed_wheel.workdir / "airflow-home"
    store = installed_wheel.workdir / "mlflow-store"
    (home / "dags").mkdir(parents=True)
    store.mkdir()
    shutil.copy(REPO_ROOT / "example_dags" / "register_model.py", home / "dags")
    env = airflow_environment(home, store)
    airflow = installed_wheel.bin / "airflow"

    providers = run([airflow, "providers", "list", "-o", "json"], env=env, cwd=store, timeout=300)
    listed = {row["package_name"]: row for row in json.loads(providers.stdout)}
    assert listed[PACKAGE]["version"] == project_version()
    assert listed[PACKAGE]["description"].startswith("Register, trace and promote MLflow")

    run([airflow, "db", "migrate"], env=env, cwd=store, timeout=300)
    # From the store's directory: a SQLite tracking store keeps artifacts under ./mlruns.
    run([airflow, "dags", "test", "register_model"], env=env, cwd=store, timeout=600)

    cli = installed_wheel.bin / "airflow-mlflow-registry"
    listing = run(
        [cli, "list-versions", "iris-classifier", "--json"], env=env, cwd=store, timeout=300
    )
    [version] = json.loads(listing.stdout)
    assert version["aliases"] == ["staging"]
    assert version["tags"]["trained_by"] == "register_model"
    assert version["lineage"]["airflow.dag_id"] == "register_model"
    assert (store / "mlruns").is_dir()
