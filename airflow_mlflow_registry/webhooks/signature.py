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

"""What makes an MLflow webhook delivery authentic.

MLflow signs each delivery with the webhook's secret: header ``X-MLflow-Signature`` is ``v1,``
followed by the base64 HMAC-SHA256 of ``"<delivery id>.<timestamp>.<body>"``, where the delivery
id and the Unix timestamp are the ``X-MLflow-Delivery-Id`` and ``X-MLflow-Timestamp`` headers.
A delivery is accepted only when the signature matches and the timestamp is within a tolerance
of the receiver's clock, so a captured delivery cannot be replayed later (a replay inside the
tolerance carries an already recorded delivery id and records nothing).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"

# Standard Webhooks' default: deliveries older (or newer) than this are replays or clock skew.
DEFAULT_TOLERANCE_SECONDS = 300
# Every header is checked against an ASCII-only pattern before anything is computed from it:
# ``str.isdigit()`` accepts "²", ``int()`` refuses 4,300+ digits, and ``hmac.compare_digest``
# refuses non-ASCII text, so a looser check turns a malformed header into a server error.
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
# ``<version>,<base64>``; several, space-separated, during a secret rotation (Standard Webhooks).
_SIGNATURE = re.compile(r"[a-z0-9]{1,8},[A-Za-z0-9+/]{1,172}={0,2}")
_MAX_SIGNATURES = 8


class WebhookRejected(Exception):
    """A delivery the receiver refuses: ``status_code`` is the HTTP answer, the message the
    reason that is logged (never a secret, never the body)."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


@dataclass(frozen=True)
class SignedHeaders:
    """The well-formed authentication headers of one delivery: its id, its Unix
    ``timestamp`` (digits) and the ``signatures`` it carries."""

    delivery_id: str
    timestamp: str
    signatures: tuple[str, ...]


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` value MLflow sends for this delivery."""
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def read_signed_headers(
    headers: Mapping[str, str],
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> SignedHeaders:
    """The delivery's authentication headers, checked for presence, form and freshness; no
    secret is needed, so a request failing here costs no secrets look-up.

    ``headers`` is looked up case-insensitively when it is a case-insensitive mapping (as
    Starlette's); ``now`` is the receiver's Unix time.

    :raises WebhookRejected: 401 for a missing or malformed header (anything but the ASCII
        forms: a delivery id of 1-128 ``[A-Za-z0-9._:-]``, a timestamp of 1-12 digits, up to
        8 space-separated ``<version>,<base64>`` signatures) or a timestamp more than
        ``tolerance_seconds`` away from ``now``.
    """
    delivery_id = headers.get(DELIVERY_ID_HEADER) or ""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not signature:
        raise WebhookRejected(401, f"no {SIGNATURE_HEADER} header (is the webhook's secret set?)")
    signatures = tuple(signature.split(" "))
    if len(signatures) > _MAX_SIGNATURES or not all(map(_SIGNATURE.fullmatch, signatures)):
        raise WebhookRejected(401, f"malformed {SIGNATURE_HEADER} header")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise WebhookRejected(401, f"missing or malformed {DELIVERY_ID_HEADER} header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise WebhookRejected(401, f"missing or malformed {TIMESTAMP_HEADER} header")
    skew = now - int(timestamp)
    if abs(skew) > tolerance_seconds:
        raise WebhookRejected(
            401,
            f"timestamp {skew:+.0f} s from this server's clock, outside the "
            f"{tolerance_seconds:g} s tolerance (a replay, or clocks out of sync)",
        )
    return SignedHeaders(delivery_id, timestamp, signatures)


def check_signature(secret: str, signed: SignedHeaders, body: bytes) -> None:
    """Check that one of ``signed``'s signatures is ``secret``'s signature of ``body``.

    :raises WebhookRejected: 401 when none matches.
    """
    expected = sign(secret, signed.delivery_id, signed.timestamp, body)
    if not any(hmac.compare_digest(expected, given) for given in signed.signatures):
        raise WebhookRejected(401, "signature does not match the webhook secret")


def verify_delivery(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check the delivery's headers (:func:`read_signed_headers`) and signature
    (:func:`check_signature`) against ``secret``; return its delivery id.

    :raises WebhookRejected: 401, as those two do.
    """
    signed = read_signed_headers(headers, now=now, tolerance_seconds=tolerance_seconds)
    check_signature(secret, signed, body)
    return signed.delivery_id
