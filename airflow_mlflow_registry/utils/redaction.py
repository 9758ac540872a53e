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

"""Redaction: every text this provider shows or stores goes through it. Secrets known by
value are replaced with :func:`redact`, and URIs are shown only in their :func:`display_uri`
form; :func:`mask_secrets` registers secrets with Airflow's secrets masker.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from airflow_mlflow_registry.utils.standalone import is_standalone

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Schemes (before any ``+driver``) whose URIs SQLAlchemy parses: the user info runs from
#: ``://`` to the first ``@``, and the password may contain ``/``.
DATABASE_SCHEMES = frozenset({"postgresql", "mysql", "mssql", "sqlite"})
REDACTED = "***"
# Query parameters whose values are credentials: pre-signed URL signatures (S3, GCS, Azure
# SAS), tokens, keys, passwords.
_SECRET_QUERY_KEY = re.compile(r"sig|token|credential|secret|password|passw|pwd|key", re.I)
_DATABASE_USERINFO = re.compile(r"[^:/]*(?::[^@]*)?@")


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
    :mod:`standalone mode <airflow_mlflow_registry.utils.standalone>`, which has no masker."""
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
