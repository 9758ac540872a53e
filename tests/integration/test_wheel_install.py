"""The built package, not the checkout: ``uv build`` makes an sdist and a wheel, the wheel goes
into a fresh venv beside a released Airflow (the pinned 3.3.2 set of ``.ci/constraints.txt``),
and Airflow, the example DAG and the command line run from that venv.

The venv gets the wheel with its declared dependencies (mlflow-skinny, not mlflow) plus
scikit-learn, pandas and skops for the example DAG; its processes run outside the checkout, with a
throw-away ``AIRFLOW_HOME`` and a copy of the example DAG file, against a real MLflow server.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.airflow_env import connection_json

if TYPE_CHECKING:
    from tests.support.mlflow_server import MlflowServer

# Building, installing and a first `airflow db migrate` take minutes on a busy 2-core machine.
pytestmark = [pytest.mark.e2e, pytest.mark.wheel, pytest.mark.timeout(1200)]

REPO_ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"
PACKAGE = "airflow-mlflow-registry"


@dataclass(frozen=True)
class InstalledWheel:
    """A built sdist and wheel, and a venv with the wheel installed (``bin`` is its scripts)."""

    sdist: Path
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


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """Builds the sdist and wheel from the checkout and installs the wheel into a new venv."""
    workdir = tmp_path_factory.mktemp("wheel")
    dist = workdir / "dist"
    run([UV, "build", "--quiet", "--out-dir", dist, REPO_ROOT], cwd=workdir, timeout=300)
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")
    venv = workdir / "venv"
    run([UV, "venv", "--quiet", "--python", sys.executable, venv], cwd=workdir, timeout=120)
    install = [UV, "pip", "install", "--quiet", "--python", venv / "bin" / "python"]
    constraints = ["--constraint", REPO_ROOT / ".ci" / "constraints.txt"]
    # What the example DAG's training task imports; MLflow 3.17 saves sklearn models with skops.
    example_needs = ["scikit-learn", "pandas", "skops"]
    run([*install, *constraints, wheel, *example_needs], cwd=workdir, timeout=600)
    return InstalledWheel(sdist=sdist, wheel=wheel, bin=venv / "bin", workdir=workdir)


def project_version() -> str:
    """The version ``pyproject.toml`` declares: the wheel, ``airflow providers list`` and the
    docs all say this one."""
    import tomllib

    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def airflow_environment(home: Path, mlflow_url: str) -> dict[str, str]:
    """A user's environment: no test settings, no checkout on the path, a fresh home."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", str(home)),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": connection_json(mlflow_url),
    }


def test_wheel_carries_typing_marker_entry_points_license_and_metadata(
    installed_wheel: InstalledWheel,
) -> None:
    with zipfile.ZipFile(installed_wheel.wheel) as wheel:
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
    with tarfile.open(installed_wheel.sdist) as sdist:
        members = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {"pyproject.toml", "LICENSE", "README.md", "airflow_mlflow_registry/py.typed"} <= members


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


def test_airflow_providers_list_example_dag_and_cli_run_from_the_wheel(
    installed_wheel: InstalledWheel, mlflow_server: MlflowServer
) -> None:
    home = installed_wheel.workdir / "airflow-home"
    (home / "dags").mkdir(parents=True)
    shutil.copy(REPO_ROOT / "example_dags" / "register_model.py", home / "dags")
    env = airflow_environment(home, mlflow_server.url)
    airflow = installed_wheel.bin / "airflow"
    cwd = installed_wheel.workdir

    providers = run([airflow, "providers", "list", "-o", "json"], env=env, cwd=cwd, timeout=300)
    listed = {row["package_name"]: row for row in json.loads(providers.stdout)}
    assert listed[PACKAGE]["version"] == project_version()
    assert listed[PACKAGE]["description"].startswith("Register, trace and promote MLflow")

    started = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    run([airflow, "db", "migrate"], env=env, cwd=cwd, timeout=300)
    run([airflow, "dags", "test", "register_model"], env=env, cwd=cwd, timeout=600)

    cli = installed_wheel.bin / "airflow-mlflow-registry"
    listing = run(
        [cli, "list-versions", "iris-classifier", "--created-after", started, "--json"],
        env=env,
        cwd=cwd,
        timeout=300,
    )
    [version] = json.loads(listing.stdout)
    assert version["aliases"] == ["staging"]
    assert version["tags"]["trained_by"] == "register_model"
    assert version["lineage"]["airflow.dag_id"] == "register_model"
