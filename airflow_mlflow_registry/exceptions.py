"""Errors raised by this provider, and the redaction every shown or stored text goes through.

Messages name the model, version or field, never a secret: secrets known by value are replaced
with :func:`redact`, and URIs are shown only in their :func:`display_uri` form.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from airflow_mlflow_registry.standalone import is_standalone

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_mlflow_registry.version_compat import AirflowException as _ErrorBase
elif is_standalone():
    # The command line without Airflow (see airflow_mlflow_registry.standalone).
    _ErrorBase = Exception
else:
    from airflow_mlflow_registry.version_compat import AirflowException as _ErrorBase

#: Schemes (before any ``+driver``) whose URIs SQLAlchemy parses: the user info runs from
#: ``://`` to the first ``@``, and the password may contain ``/``.
DATABASE_SCHEMES = frozenset({"postgresql", "mysql", "mssql", "sqlite"})
REDACTED = "***"
# Query parameters whose values are credentials: pre-signed URL signatures (S3, GCS, Azure
# SAS), tokens, keys, passwords.
_SECRET_QUERY_KEY = re.compile(r"sig|token|credential|secret|password|passw|pwd|key", re.I)
_DATABASE_USERINFO = re.compile(r"[^:/]*(?::[^@]*)?@")


class MlflowRegistryError(_ErrorBase):
    """Base class of every error this provider raises: an ``AirflowException``, except in
    :mod:`standalone mode <airflow_mlflow_registry.standalone>` (the command line without
    Airflow), where it is a plain ``Exception``."""


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


def describe_mlflow_error(exc: BaseException, secrets: tuple[str | None, ...] = ()) -> str:
    """One line saying what went wrong with an MLflow call, in words a user can act on.

    Tells authentication, permission, TLS, timeout and connection failures apart by
    inspecting the exception and its chain (MLflow reports all transport failures as
    ``INTERNAL_ERROR``). Every string in ``secrets`` is replaced by ``***``.
    """
    status = _http_status(exc)
    chain_text = " | ".join(f"{type(e).__name__}: {e}" for e in _chain(exc))
    if status == 401:
        text = (
            "authentication failed (HTTP 401): the server rejected these credentials; check "
            "the connection's Username/Password or token"
        )
    elif status == 403:
        text = (
            "permission denied (HTTP 403): the credentials are valid but lack permission for "
            "this resource"
        )
    elif "SSLError" in chain_text or "CERTIFICATE_VERIFY_FAILED" in chain_text:
        text = (
            "TLS error: the server certificate could not be verified; set 'ca_bundle_path' to "
            "the CA that signed it (or 'client_cert_path' if the server requires a client "
            f"certificate). Detail: {_last_line(exc)}"
        )
    elif "Timeout" in chain_text or "timed out" in chain_text:
        text = "no answer from the server before the timeout (extra 'timeout' sets it)"
    elif "ConnectionError" in chain_text or "Connection refused" in chain_text:
        text = "could not connect to the server; check the Tracking URI and that it is up"
    else:
        code = getattr(exc, "error_code", None)
        prefix = f"{code}: " if code else ""
        text = f"{prefix}{_last_line(exc)}"
    return redact(text, secrets)


def is_transient_error(exc: BaseException) -> bool:
    """True when trying the same request again later may succeed: the server could not be
    reached, did not answer in time, or answered 408, 429 or 5xx. False for everything else:
    TLS failures, 401/403, a rejected filter or argument (other 4xx), invalid input.

    Inspects ``exc`` and its chain (MLflow reports every transport failure, TLS included, as
    ``INTERNAL_ERROR``, HTTP 500).
    """
    chain = _chain(exc)
    chain_text = " | ".join(f"{type(e).__name__}: {e}" for e in chain)
    if "SSLError" in chain_text or "CERTIFICATE_VERIFY_FAILED" in chain_text:
        return False
    statuses = [status for status in map(_http_status, chain) if status is not None]
    if any(400 <= status < 500 and status not in (408, 429) for status in statuses):
        return False
    if any(status >= 500 or status in (408, 429) for status in statuses):
        return True
    return any(
        marker in chain_text
        for marker in ("ConnectionError", "Connection refused", "Timeout", "timed out")
    )


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every non-empty secret in ``text`` by ``***``, longest first (so a secret that
    contains another is replaced whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def display_uri(uri: str) -> str:
    """``uri`` as it may be shown, logged or stored: its user info (``user:password@``), every
    query value and any fragment replaced by ``***``. Scheme, host, port and path are kept.

    ``postgresql://alice:pw@db/mlflow`` becomes ``postgresql://***@db/mlflow``, and a pre-signed
    ``https://b.s3.amazonaws.com/m?X-Amz-Signature=ab`` becomes ``...?X-Amz-Signature=***``.
    URIs without these parts (``runs:/...``, ``models:/...``, ``s3://bucket/key``) are unchanged.
    """
    prefix, userinfo, rest = split_userinfo(uri)
    rest, hash_sign, fragment = rest.partition("#")
    rest, question_mark, query = rest.partition("?")
    if query:
        query = "&".join(_redact_query_value(pair) for pair in query.split("&"))
    shown = prefix + (f"{REDACTED}@" if userinfo else "") + rest + question_mark + query
    return shown + (f"#{REDACTED}" if fragment else hash_sign)


def uri_secrets(uri: str | None) -> tuple[str, ...]:
    """The credentials inside ``uri``, as written and percent-decoded: the password of its user
    info (outside database URIs, a user info without ``:`` is a token: ``https://<token>@host``)
    and the values of query parameters named like signatures, tokens, credentials, keys or
    passwords.
    """
    if not uri:
        return ()
    prefix, userinfo, rest = split_userinfo(uri)
    found = []
    if userinfo:
        user, colon, password = userinfo[:-1].partition(":")
        found.append(password if colon or _is_database_uri(prefix) else user)
    query = rest.partition("#")[0].partition("?")[2]
    for pair in query.split("&") if query else ():
        key, _, value = pair.partition("=")
        if _SECRET_QUERY_KEY.search(unquote(key)):
            found.append(value)
    return tuple(dict.fromkeys(form for s in found if s for form in (s, unquote(s))))


def mask_secrets(secrets: Iterable[str | None]) -> None:
    """Register each non-empty secret with Airflow's secrets masker, which removes it from task
    logs and rendered template fields (in the task process and its supervisor). Does nothing in
    :mod:`standalone mode <airflow_mlflow_registry.standalone>`, which has no masker."""
    if is_standalone():
        return
    from airflow_mlflow_registry.version_compat import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)


def split_userinfo(uri: str) -> tuple[str, str, str]:
    """``(scheme://, user info with its '@' or '', rest)``; ``('', '', uri)`` without ``://``.

    Database URIs are split as SQLAlchemy reads them; others by RFC 3986 (the user info ends
    at the last ``@`` before the first ``/``, ``?`` or ``#``).
    """
    scheme, separator, rest = uri.partition("://")
    if not separator:
        return "", "", uri
    prefix = scheme + separator
    if _is_database_uri(prefix):
        match = _DATABASE_USERINFO.match(rest)
        userinfo = match.group(0) if match else ""
    else:
        authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
        userinfo = authority[: authority.rfind("@") + 1]
    return prefix, userinfo, rest[len(userinfo) :]


def _is_database_uri(uri: str) -> bool:
    return uri.partition(":")[0].lower().split("+")[0] in DATABASE_SCHEMES


def _redact_query_value(pair: str) -> str:
    key, equals, value = pair.partition("=")
    return f"{key}={REDACTED}" if equals and value else pair


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _http_status(exc: BaseException) -> int | None:
    getter = getattr(exc, "get_http_status_code", None)
    if getter is None:
        return None
    try:
        return int(getter())
    except (TypeError, ValueError):
        return None


def _last_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return " ".join(str(message).split())[:500]


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
