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


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 one carries (mapped ::ffff:a.b.c.d, 6to4 2002::/16, NAT64's
    well-known prefix): where the packets really go."""
    if ip.version == 6:
        if ip.ipv4_mapped or ip.sixtofour:
            return ip.ipv4_mapped or ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _bad(ip):
    """Anything not globally reachable (loopback, private, link-local, shared 100.64/10,
    reserved, unspecified, documentation…) or multicast, also inside an IPv6 wrapper."""
    inner = _embedded_ipv4(ip)
    if inner is not None and _bad(inner):
        return True
    return not ip.is_global or ip.is_multicast


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
        if _bad(ip) and not (allow and (ip.is_loopback or getattr(_embedded_ipv4(ip), "is_loopback", False))):
            raise UnsafeUrl("The address points to a private or reserved network.")
    ip = ips[0]
    netloc = f"[{ip}]" if ip.version == 6 else str(ip)
    if parts.port:
        netloc += f":{parts.port}"
    host_header = parts.netloc.rsplit("@", 1)[-1]
    return Target(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header, host)
