"""Errors raised by this provider. Messages name the model, version or field, never a secret."""

from __future__ import annotations

from airflow_mlflow_registry.version_compat import AirflowException


class MlflowRegistryError(AirflowException):
    """Base class of every error this provider raises."""


class MlflowConnectionConfigError(MlflowRegistryError, ValueError):
    """An ``mlflow`` connection is misconfigured; the message names the field and the fix."""


class MlflowRequestError(MlflowRegistryError):
    """An MLflow request failed; the message names the model (and version) it was about."""


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


def redact(text: str, secrets: tuple[str | None, ...]) -> str:
    """Replace every non-empty secret in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


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
