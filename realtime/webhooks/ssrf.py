"""Where a webhook may be sent: the URL's host is resolved once here, every address it
resolves to is checked, and the request then goes to the checked address (the Host header
and TLS SNI carry the name), so a second DNS answer cannot rebind it to an internal one.

Refused unless settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS: loopback, private (RFC 1918,
unique-local fc00::/7), link-local (169.254/16 with the cloud metadata address, fe80::/10),
multicast, unspecified, reserved and shared (100.64/10) addresses, IPv4-mapped IPv6 forms
of those included: anything that is not a global unicast address.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from realtime.errors import Invalid
from realtime.webhooks import conf


class Refused(Invalid):
    """The URL may not be requested (a non-public address, a bad scheme or host)."""

    code = "invalid"


def _public(ip):
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_unspecified or ip.is_reserved
                                 or ip.is_loopback or ip.is_link_local or ip.is_private)


def parse(url):
    """(scheme, host, port) of an http(s) URL; Refused for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused(f"Not a valid URL: {exc}.", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("The URL must be http(s)://host/...", field="url")
    if parts.username or parts.password:
        raise Refused("The URL must not carry credentials.", field="url")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def check_literal(url):
    """Refuses a URL whose host is a literal non-public IP address (registration time;
    names are checked when each request is made, since their addresses can change)."""
    _, host, _ = parse(url)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return
    if not conf.allow_private_networks() and not _public(ip):
        raise Refused(f"{host} is not a public address.", field="url")


def resolve(url):
    """The first address to connect to for `url` (see resolve_all)."""
    return resolve_all(url)[0]


def resolve_all(url):
    """The addresses to connect to for `url`, in the resolver's order, after checking every
    one; Refused when one is not public (unless allowed) or the name does not resolve."""
    _, host, port = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{host} does not resolve: {exc}.", field="url") from None
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise Refused(f"{host} does not resolve.", field="url")
    if not conf.allow_private_networks():
        bad = [str(ip) for ip in addresses if not _public(ip)]
        if bad:
            raise Refused(f"{host} resolves to a non-public address ({', '.join(bad)}).", field="url")
    return [str(ip) for ip in addresses]
