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

"""The exactly-once rule: which earlier version a registration reuses, supersedes or gives way to.

Every version a task instance registers carries its registration key (one task instance, see
:meth:`~airflow_mlflow_registry.lineage.TaskInstanceLineage.registration_key`), the source it
was asked to register (``airflow.source_uri``, in its
:func:`~airflow_mlflow_registry.utils.redaction.display_uri` form: a tag is no place for the
signature of a pre-signed URL) and, when it replaced an earlier version of the
same task instance, that version's number (``airflow.supersedes_version``). Versions with the
same key, source and superseded version are one *generation*: attempts that raced, or creates
that were re-sent, and of those the lowest live version is the one that counts. A version whose
registration failed is never reused, never wins and never causes another to be deleted.

Pure functions on MLflow ``ModelVersion`` objects whose ``tags`` are readable; no requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_mlflow_registry.utils.redaction import display_uri

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mlflow.entities.model_registry import ModelVersion

SOURCE_URI_TAG = "airflow.source_uri"
SUPERSEDES_TAG = "airflow.supersedes_version"
FAILED_REGISTRATION = "FAILED_REGISTRATION"

Generation = tuple[str, str | None]


def registered_source(version: ModelVersion) -> str:
    """The source ``version`` was asked to register, in its ``display_uri`` form: its
    ``airflow.source_uri`` tag, else (for versions registered before that tag existed) the
    source the registry stored."""
    return display_uri(str(dict(version.tags or {}).get(SOURCE_URI_TAG) or version.source))


def generation_of(version: ModelVersion) -> Generation:
    """(source, superseded version) of ``version``: equal for duplicates of one registration."""
    return registered_source(version), dict(version.tags or {}).get(SUPERSEDES_TAG)


def live_versions(versions: Iterable[ModelVersion]) -> list[ModelVersion]:
    """``versions`` without failed registrations, lowest version first."""
    return sorted(
        (mv for mv in versions if mv.status != FAILED_REGISTRATION), key=lambda mv: int(mv.version)
    )


def generation_winner(
    versions: Iterable[ModelVersion], generation: Generation
) -> ModelVersion | None:
    """The lowest live version of ``generation`` among ``versions``, or None."""
    return next((mv for mv in live_versions(versions) if generation_of(mv) == generation), None)


@dataclass(frozen=True)
class EarlierRegistration:
    """What earlier attempts of one task instance left: the version to reuse (same source), or
    the version a new one supersedes (different source), or neither (first registration)."""

    reusable: ModelVersion | None = None
    superseded: ModelVersion | None = None


def earlier_registration(versions: Iterable[ModelVersion], source: str) -> EarlierRegistration:
    """Decide from the versions carrying one registration key what registering ``source`` does
    (sources are compared in their ``display_uri`` form).

    The task instance's current version is the winner of the generation of its newest live
    version. When that version registered ``source``, it is reused; otherwise a new version
    supersedes it (a cleared task that registers a retrained model, a reordered ``expand``).
    """
    live = live_versions(versions)
    if not live:
        return EarlierRegistration()
    current = generation_winner(live, generation_of(live[-1]))
    assert current is not None  # live[-1] itself belongs to its generation
    if registered_source(current) == display_uri(source):
        return EarlierRegistration(reusable=current)
    return EarlierRegistration(superseded=current)
