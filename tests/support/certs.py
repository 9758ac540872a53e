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

"""Throw-away TLS material for HTTPS and mutual-TLS test servers, made with ``trustme``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import trustme

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class TlsCerts:
    """Paths of the PEM files written by :func:`make_tls_certs`.

    ``ca_pem`` signed both the server and the client certificate; ``other_ca_pem`` is an
    unrelated CA that must not be able to verify the server.
    """

    ca_pem: Path
    server_pem: Path
    server_key: Path
    client_pem: Path
    other_ca_pem: Path


def make_tls_certs(directory: Path) -> TlsCerts:
    """Write a CA, a server certificate valid for ``127.0.0.1`` and ``localhost`` (with its key
    in a separate file), a client certificate with its key in one file, and a second unrelated
    CA into ``directory`` (created if missing); return their paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    certs = TlsCerts(
        ca_pem=directory / "ca.pem",
        server_pem=directory / "server.pem",
        server_key=directory / "server.key",
        client_pem=directory / "client.pem",
        other_ca_pem=directory / "other_ca.pem",
    )
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(certs.ca_pem))
    server = ca.issue_cert("127.0.0.1", "localhost")
    server.cert_chain_pems[0].write_to_path(str(certs.server_pem))
    server.private_key_pem.write_to_path(str(certs.server_key))
    ca.issue_cert("client@example.org").private_key_and_cert_chain_pem.write_to_path(
        str(certs.client_pem)
    )
    trustme.CA().cert_pem.write_to_path(str(certs.other_ca_pem))
    return certs
