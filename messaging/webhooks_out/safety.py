"""SSRF guard of outgoing webhooks: https only (http when WEBHOOKS_ALLOW_LOOPBACK), and no host
resolving to a loopback, private, link-local, multicast, reserved or unspecified address. Checked
when an endpoint is saved and again at every attempt; the attempt then connects to the IP checked
here (transport.py), so DNS answering differently a second later (rebinding) cannot swap it."""

import ipaddress
import socket
from typing import NamedTuple
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings


class UnsafeUrl(ValueError):
    pass


class Target(NamedTuple):
    url: str  # the URL with its host replaced by the checked IP
    host_header: str  # the Host header: the original host (and port, if the URL has one)
    hostname: str  # the name TLS is verified against (SNI and the certificate)


def _allow_loopback():
    return settings.WEBHOOKS_ALLOW_LOOPBACK


def _bad(ip):
    return ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified


def resolve_safe(url) -> Target:
    """The checked target of `url`, or UnsafeUrl. Every address the name resolves to must be
    safe (not only the first), so a name cannot mix a public address with a private one."""
    parts = urlsplit(url)
    allow = _allow_loopback()
    if parts.scheme != "https" and not (allow and parts.scheme == "http"):
        raise UnsafeUrl("The address must start with https://.")
    host = parts.hostname
    if not host:
        raise UnsafeUrl("The address has no host.")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl("The host name does not resolve.") from None
    ips = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    if not ips:
        raise UnsafeUrl("The host name does not resolve.")
    for ip in ips:
        if _bad(ip) and not (allow and ip.is_loopback):
            raise UnsafeUrl("The address points to a private or reserved network.")
    ip = ips[0]
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    if parts.port:
        netloc += f":{parts.port}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host)
