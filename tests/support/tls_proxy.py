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

"""A TLS-terminating reverse proxy on 127.0.0.1: HTTPS in front of a plain-HTTP upstream (for
example Airflow's api-server), with a certificate from :func:`tests.support.certs.make_tls_certs`,
as a load balancer terminates TLS in production."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from tests.support.bearer_proxy import ForwardingProxy

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from tests.support.certs import TlsCerts


class TlsTerminatingProxy(ForwardingProxy):
    """Serve HTTPS (``certs.server_pem``, valid for 127.0.0.1) and forward every request to
    ``upstream_url`` over plain HTTP. ``url`` is ``https://127.0.0.1:<port>``."""

    def __init__(self, upstream_url: str, certs: TlsCerts) -> None:
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(str(certs.server_pem), str(certs.server_key))
        super().__init__(upstream_url)
        self.url = self.url.replace("http://", "https://", 1)

    def _bind(self, port: int) -> ThreadingHTTPServer:
        server = super()._bind(port)
        server.socket = self._context.wrap_socket(server.socket, server_side=True)
        return server
