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

"""The errors this provider raises. Every one derives from :class:`MlflowRegistryError`, a
plain ``Exception`` (Airflow fails a task on any exception). Messages name the model, version or
field, never a secret (:mod:`airflow_mlflow_registry.utils.redaction`).
"""

from __future__ import annotations


class MlflowRegistryError(Exception):
    """Base class of every error this provider raises, whatever was imported first."""


class MlflowConnectionConfigError(MlflowRegistryError, ValueError):
    """An ``mlflow`` connection is misconfigured; the message names the field and the fix."""


class MlflowRequestError(MlflowRegistryError):
    """An MLflow request failed; the message names the model (and version) it was about."""


class MlflowServerTooOldError(MlflowRequestError):
    """The tracking server predates MLflow 3 and lacks an endpoint a request needs; the message
    names the server's version and says to upgrade it. ``server_version`` is what it reported.
    """

    def __init__(self, message: str, *, server_version: str) -> None:
        super().__init__(message)
        self.server_version = server_version


class MlflowWorkspaceError(MlflowRegistryError):
    """A connection's MLflow workspace cannot be used: the server has no workspaces, or the
    workspace does not exist there; the message says which and how to fix it."""


class UnsupportedMlflowClientError(MlflowRegistryError):
    """The installed MLflow client lacks an internal that the per-connection client binding
    uses (a client release newer than this provider knows); the message names the installed
    release, what it lacks, the newest release tested and what to pin."""

    def __init__(self, *, installed: str, newest_tested: str, missing: list[str]) -> None:
        super().__init__(
            f"The installed MLflow client (mlflow-skinny {installed}) lacks MLflow internals "
            f"that this provider's per-connection client relies on: {', '.join(missing)}. "
            f"The newest mlflow-skinny tested with this provider is {newest_tested}: pin "
            f"`mlflow-skinny<={newest_tested}` (with full MLflow, `mlflow<={newest_tested}`), "
            "or upgrade airflow-mlflow-registry to a release that supports "
            f"mlflow-skinny {installed}."
        )
        self.installed = installed
        self.newest_tested = newest_tested
        self.missing = missing


class AmbientSourceRefusedError(MlflowRegistryError):
    """The files of a model source are not served by the connection's tracking server (its
    proxied artifact store), so reading them would use the worker's own credentials, file
    system or network position; the message names the source and the opt-in parameter."""


class LoggedModelReclaimedError(MlflowRegistryError):
    """A version was registered from a logged model whose files retention is deleting (or has
    deleted): the new version was deleted again; the message names the logged model."""


class SourceVersionNotFoundError(MlflowRegistryError):
    """The version to copy does not exist or is not READY; the message names it."""


class UnsupportedByRegistryError(MlflowRegistryError):
    """The connection's registry cannot do what was asked (e.g. Unity Catalog and ordered
    version searches); the message names the operation and what to use instead."""


class ModelRegistrationError(MlflowRegistryError):
    """A model version could not be registered, or did not become READY in time."""


class NoMatchingRunError(MlflowRegistryError):
    """A run search found no run; the message shows the experiment and the rendered filter."""


class ExperimentNotFoundError(MlflowRegistryError):
    """The experiment of a run search or backfill does not exist (or is deleted): a
    configuration error, never a "no run this time" (so ``on_no_match="skip"`` does not skip
    it). The message names the experiment and the server."""


class NoCandidateVersionError(MlflowRegistryError):
    """No model version qualifies for promotion; the message names the model and the criteria."""


class HumanInTheLoopUnavailableError(MlflowRegistryError):
    """This Airflow has no human-in-the-loop operators (Airflow 3.0); the message says what to
    use instead."""


class ReviewRequestChangedError(MlflowRegistryError):
    """A later try of an approval task would ask about another comparison than the page its
    first request showed (Airflow keeps that page); the message names both and the fix."""


class StaleApprovalError(MlflowRegistryError):
    """An approval would move an alias that has moved since the reviewer was asked: the
    reviewer compared the candidate with another version than the one it would replace. The
    message names the versions and the fix (a new DAG run asks again)."""


class TamperedRecordError(MlflowRegistryError):
    """A record the task wrote for itself (the review request in XCom) was changed by someone
    else before the task read it back: its signature does not verify. Nothing is moved."""


class SigningSecretError(MlflowRegistryError):
    """The Airflow variable holding the signing secret is missing or too short; the message
    names it and says how to set it."""


class ApprovalPolicyError(MlflowRegistryError):
    """An approval that a promotion policy refuses (the same person twice, or the person who
    triggered the run); the message names the rule."""


class AliasMovedError(MlflowRegistryError):
    """An alias no longer points where a move expected it to (it moved meanwhile)."""


class RollbackRefusedError(MlflowRegistryError):
    """A rollback was refused: the message names the rule (no trusted history, target deleted
    or not READY, alias not where the ledger says)."""
