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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"

# Standard Webhooks' default: deliveries older (or newer) than this are replays or clock skew.
DEFAULT_TOLERANCE_SECONDS = 300
_DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class WebhookRejected(Exception):
    """A delivery the receiver refuses: ``status_code`` is the HTTP answer, the message the
    reason that is logged (never a secret, never the body)."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``X-MLflow-Signature`` value MLflow sends for this delivery."""
    signed = delivery_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify_delivery(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> str:
    """Check the delivery's headers against ``secret``; return its delivery id.

    ``headers`` is looked up case-insensitively when it is a case-insensitive mapping (as
    Starlette's); ``now`` is the receiver's Unix time.

    :raises WebhookRejected: 401 for a missing or malformed header, a timestamp more than
        ``tolerance_seconds`` away from ``now``, or a signature that does not match.
    """
    delivery_id = headers.get(DELIVERY_ID_HEADER) or ""
    timestamp = headers.get(TIMESTAMP_HEADER) or ""
    signature = headers.get(SIGNATURE_HEADER) or ""
    if not signature:
        raise WebhookRejected(401, f"no {SIGNATURE_HEADER} header (is the webhook's secret set?)")
    if not _DELIVERY_ID.match(delivery_id):
        raise WebhookRejected(401, f"missing or malformed {DELIVERY_ID_HEADER} header")
    if not timestamp.isdigit():
        raise WebhookRejected(401, f"missing or malformed {TIMESTAMP_HEADER} header")
    skew = now - int(timestamp)
    if abs(skew) > tolerance_seconds:
        raise WebhookRejected(
            401,
            f"timestamp {skew:+.0f} s from this server's clock, outside the "
            f"{tolerance_seconds:g} s tolerance (a replay, or clocks out of sync)",
        )
    expected = sign(secret, delivery_id, timestamp, body)
    # Several signatures may be sent space-separated (Standard Webhooks, during secret rotation).
    if not any(hmac.compare_digest(expected, given) for given in signature.split()):
        raise WebhookRejected(401, "signature does not match the webhook secret")
    return delivery_id
