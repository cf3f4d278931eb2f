"""The network edge of outgoing webhooks: one POST to the target safety.resolve_safe checked.

The connection goes to the checked IP (the URL carries it), never to a name resolved again, and
TLS is verified against the endpoint's host name: urllib3 sends it as SNI (`server_hostname`)
and matches the certificate against it (`assert_hostname`), with the usual chain check against
WEBHOOKS_CA_BUNDLE or requests' bundle. Without this the certificate would be checked against
the IP and no real receiver would pass."""

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from messaging.webhooks_out.safety import Target


class PinnedHostAdapter(HTTPAdapter):
    """Connects where the URL points (the checked IP); SNI and the certificate check use `hostname`."""

    def __init__(self, hostname: str, **kwargs):
        self.hostname = hostname
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        # Part of urllib3's pool key too, so a pool made for one name is never reused for another.
        pool_kwargs["server_hostname"] = self.hostname
        pool_kwargs["assert_hostname"] = self.hostname
        return host_params, pool_kwargs


def post(target: Target, body: bytes, headers: dict) -> int:
    """POST `body`; the answer's status code (its body is never read), or requests' exception."""
    with requests.Session() as session:
        # No proxy, netrc or CA bundle from the environment: a proxy would connect to a name it
        # resolves itself, past the address check.
        session.trust_env = False
        session.mount("https://", PinnedHostAdapter(target.hostname))
        response = session.post(
            target.url,
            data=body,
            headers={**headers, "Host": target.host_header},
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,  # a redirect could point anywhere, unchecked
            verify=settings.WEBHOOKS_CA_BUNDLE or True,
            stream=True,  # status line and headers only: a huge answer is never downloaded
        )
        response.close()
        return response.status_code
