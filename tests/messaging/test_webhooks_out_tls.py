"""Outgoing webhooks over real TLS: the POST goes to the IP checked against SSRF, and the
certificate is verified against the endpoint's host name (SNI and match), with verification on.

A throwaway CA and certificates are made with the `openssl` command; an https server runs on
127.0.0.1; the names resolve to 127.0.0.1 through socket.getaddrinfo (the network edge), and
loopback is allowed through WEBHOOKS_ALLOW_LOOPBACK."""

import http.server
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from messaging import webhooks_out
from messaging.models import DeliveryState, WebhookAttempt

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")

NAME = "hooks.example.test"
REAL_GETADDRINFO = socket.getaddrinfo


def openssl(*args, cwd):
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name="Throwaway Test CA"):
    directory.mkdir()
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={name}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            cwd=directory)  # fmt: skip
    return directory


def make_cert(ca, dns_name):
    """A server certificate for dns_name signed by the CA in `ca`: (cert path, key path)."""
    stem = dns_name.replace(".", "_")
    (ca / f"{stem}.ext").write_text(
        f"subjectAltName=DNS:{dns_name}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n"
    )
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f"{stem}.key",
            "-out", f"{stem}.csr", "-subj", f"/CN={dns_name}", cwd=ca)  # fmt: skip
    openssl("x509", "-req", "-in", f"{stem}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{stem}.pem", "-days", "2", "-extfile", f"{stem}.ext", cwd=ca)  # fmt: skip
    return ca / f"{stem}.pem", ca / f"{stem}.key"


class TLSReceiver:
    """An https server on 127.0.0.1 presenting `cert`; records requests and the SNI it was sent."""

    def __init__(self, cert, key, status=200):
        self.status, self.requests, self.sni = status, [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, server_name, ctx: self.sni.append(server_name)
        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp("pki")
    ca = make_ca(base / "ca")
    other_ca = make_ca(base / "other-ca", name="Another CA")
    return {
        "ca": ca / "ca.pem",
        "right": make_cert(ca, NAME),
        "wrong_name": make_cert(ca, "other.example.test"),
        "untrusted": make_cert(other_ca, NAME),
    }


@pytest.fixture
def dns(monkeypatch):
    """`dns(name, ip)`: that name resolves to ip from now on (others as usual)."""
    table = {}

    def fake(host, port, *args, **kwargs):
        if host in table:
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (table[host], port))]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table.__setitem__


@pytest.fixture
def serve(settings, pki, dns):
    """`serve(cert_kind)` → an endpoint URL https://hooks.example.test:<port>/hook on a server
    presenting that certificate; the test CA is the one trusted."""
    settings.WEBHOOKS_ALLOW_LOOPBACK = True
    settings.WEBHOOKS_CA_BUNDLE = str(pki["ca"])
    dns(NAME, "127.0.0.1")
    servers = []

    def _serve(kind="right"):
        servers.append(TLSReceiver(*pki[kind]))
        return servers[-1], f"https://{NAME}:{servers[-1].port}/hook"

    yield _serve
    for server in servers:
        server.close()


def one_delivery(world, url):
    endpoint = webhooks_out.endpoint_create(sub_account=world.a1, url=url, events=["message.status"])
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {"status": "delivered"})
    return endpoint, webhooks_out.deliver(delivery.pk)


def test_delivered_over_https_with_the_certificate_checked_against_the_host_name(world, serve):
    receiver, url = serve("right")
    endpoint, delivery = one_delivery(world, url)
    assert delivery.state == DeliveryState.DELIVERED and delivery.last_status_code == 200, delivery.last_error
    assert receiver.sni == [NAME]  # the name, not the IP, went out as SNI
    headers, body = receiver.requests[0]
    assert headers["Host"] == f"{NAME}:{receiver.port}"
    assert headers["Textwise-Event-Id"] == str(delivery.event_id)
    t = int(headers["Textwise-Signature"].split(",")[0].removeprefix("t="))
    assert headers["Textwise-Signature"] == webhooks_out.sign(endpoint.secret, body.decode(), t=t)
    (attempt,) = delivery.log.all()
    assert attempt.status_code == 200 and attempt.error == "" and attempt.duration_ms >= 0


def test_certificate_for_another_name_is_refused(world, serve):
    receiver, url = serve("wrong_name")
    _, delivery = one_delivery(world, url)
    assert delivery.state == DeliveryState.PENDING and delivery.last_status_code is None
    assert delivery.last_error.startswith("certificate check failed")
    # urllib3's match (assert_hostname) names the host name checked, not the IP connected to.
    assert (
        delivery.last_error
        == "certificate check failed: hostname 'hooks.example.test' doesn't match 'other.example.test'"
    )
    assert "127.0.0.1" not in delivery.last_error and "Max retries" not in delivery.last_error
    assert receiver.requests == []  # nothing was sent over the connection
    (attempt,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code is None and attempt.error == delivery.last_error


def test_certificate_from_an_untrusted_authority_is_refused(world, serve):
    receiver, url = serve("untrusted")
    _, delivery = one_delivery(world, url)
    assert delivery.last_status_code is None and delivery.last_error.startswith("certificate check failed")
    assert "certificate verify failed" in delivery.last_error and receiver.requests == []


def test_without_the_test_ca_the_right_certificate_is_not_trusted(world, serve, settings):
    # Verification is really on: requests' own bundle does not know the throwaway CA.
    receiver, url = serve("right")
    settings.WEBHOOKS_CA_BUNDLE = ""
    _, delivery = one_delivery(world, url)
    assert delivery.last_error.startswith("certificate check failed") and receiver.requests == []


@pytest.mark.parametrize("rebound_to", ["127.0.0.1", "10.0.0.7"])
def test_dns_rebinding_to_a_private_address_is_refused_at_delivery(world, serve, dns, settings, rebound_to):
    receiver, url = serve("right")  # listening on 127.0.0.1
    settings.WEBHOOKS_ALLOW_LOOPBACK = False  # as in production
    dns(NAME, "93.184.216.34")  # a public address when the endpoint is saved
    endpoint = webhooks_out.endpoint_create(sub_account=world.a1, url=url, events=["message.status"])
    (delivery,) = webhooks_out.emit(world.a1.pk, "message.status", {})
    dns(NAME, rebound_to)  # then the name answers with this machine or a private network
    delivery = webhooks_out.deliver(delivery.pk)
    assert delivery.last_status_code is None
    assert delivery.last_error == "refused: The address points to a private or reserved network."
    assert receiver.requests == [] and receiver.sni == []  # never connected
    assert delivery.state == DeliveryState.PENDING and endpoint.url == url
