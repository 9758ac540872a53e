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

"""Records only Airflow can write: HMAC-SHA256 signatures with a secret that Airflow holds.

The secret is the Airflow variable ``mlflow_registry_signing_secret`` (masked in logs and the
UI: its key contains ``secret``), read through Airflow's secrets backends, so it may live in
Vault or another backend. Registry users, who can write tags on model versions, cannot read
it; a record whose signature does not verify was not written by this Airflow.

.. seealso:: :doc:`/howto/approve_and_promote` (section *What authorises a move*).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_mlflow_registry.exceptions import SigningSecretError

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)

SIGNING_SECRET_VARIABLE = "mlflow_registry_signing_secret"
#: A secret shorter than this is refused: it could be guessed.
MIN_SECRET_CHARACTERS = 32
SIGNATURE_SCHEME = "v1"


class SignatureCheck(enum.Enum):
    """What checking a record's signature found."""

    VALID = "valid"
    #: Signed with another secret (an earlier one, before a rotation): cannot be checked.
    OTHER_KEY = "other key"
    #: Missing, malformed, or not matching the record: the record was changed or forged.
    INVALID = "invalid"


@dataclass(frozen=True)
class RecordSigner:
    """Signs and checks records (flat mappings of strings) with one secret.

    :param secret: the signing secret; never logged (excluded from ``repr``).
    """

    secret: str = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < MIN_SECRET_CHARACTERS:
            raise ValueError(
                f"The Airflow variable {SIGNING_SECRET_VARIABLE!r} must hold at least "
                f"{MIN_SECRET_CHARACTERS} characters of random text; set it to the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )

    @property
    def key_id(self) -> str:
        """A short public name of the secret, recorded beside each signature so that a record
        signed before a rotation is told apart from a forged one."""
        return self._mac("key-id", "").hexdigest()[:12]

    def digest(self, *parts: str) -> str:
        """A keyed digest of ``parts``: unpredictable without the secret (hex)."""
        return self._mac("digest", "\x1f".join(parts)).hexdigest()

    def sign(self, record: Mapping[str, str | None]) -> str:
        """The signature of ``record``: ``v1:<key id>:<hex HMAC>`` over its canonical JSON."""
        return f"{SIGNATURE_SCHEME}:{self.key_id}:{self._record_mac(record)}"

    def check(self, record: Mapping[str, str | None], signature: str | None) -> SignatureCheck:
        """Whether ``signature`` is this secret's signature of ``record``."""
        scheme, _, rest = (signature or "").partition(":")
        key_id, _, mac = rest.partition(":")
        if scheme != SIGNATURE_SCHEME or not mac:
            return SignatureCheck.INVALID
        if not hmac.compare_digest(key_id.encode(), self.key_id.encode()):
            return SignatureCheck.OTHER_KEY
        expected = self._record_mac(record)
        if hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode()):
            return SignatureCheck.VALID
        return SignatureCheck.INVALID

    def _record_mac(self, record: Mapping[str, str | None]) -> str:
        canonical = json.dumps(dict(record), sort_keys=True, separators=(",", ":"))
        return self._mac("record", canonical).hexdigest()

    def _mac(self, purpose: str, message: str) -> hmac.HMAC:
        # The purpose keeps a digest, a key id and a record signature from standing for
        # one another.
        return hmac.new(self.secret.encode(), f"{purpose}\x00{message}".encode(), hashlib.sha256)


def task_signer() -> RecordSigner:
    """The signer of this Airflow, for code running in a task: the secret of the variable
    :data:`SIGNING_SECRET_VARIABLE`, from Airflow's secrets backends.

    The variable is never created here: tasks creating it at the same moment would each sign
    with a secret of their own, and only one would be kept.

    :raises SigningSecretError: when no backend holds the variable, or it is too short; the
        message says how to set it.
    """
    from airflow.sdk import Variable

    return _signer_from(Variable.get(SIGNING_SECRET_VARIABLE, default=None))


def server_signer() -> RecordSigner | None:
    """The signer of this Airflow in a server process (the api-server's plugins), read from
    the metadata DB and secrets backends; None when the secret is not set or too short (a
    warning says so): nothing read there can then be trusted."""
    from airflow.models.variable import Variable

    try:
        return _signer_from(Variable.get(SIGNING_SECRET_VARIABLE, default_var=None))
    except SigningSecretError as exc:
        log.warning("Records are not checked: %s", exc)
        return None


def _signer_from(value: object) -> RecordSigner:
    """A signer of the variable's ``value``, masked in logs from now on.

    :raises SigningSecretError: when it is empty or too short, saying how to set it.
    """
    from airflow_mlflow_registry.version_compat import mask_secret

    if not value:
        raise SigningSecretError(
            f"The Airflow variable {SIGNING_SECRET_VARIABLE!r} is not set: approvals and "
            "alias ledger entries carry Airflow's signature, so set it once to at least "
            f"{MIN_SECRET_CHARACTERS} random characters, e.g. `airflow variables set "
            f"{SIGNING_SECRET_VARIABLE} \"$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')\"`, or in your secrets backend."
        )
    mask_secret(str(value))
    try:
        return RecordSigner(str(value))
    except ValueError as exc:
        raise SigningSecretError(str(exc)) from None
