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

"""What went wrong with an MLflow request, for messages and retry decisions: MLflow reports
every transport failure (TLS included) as ``INTERNAL_ERROR``, so the exception's chain is read.
"""

from __future__ import annotations

from airflow_mlflow_registry.utils.redaction import redact


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
