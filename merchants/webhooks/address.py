"""Where an outbound webhook may go: the guard against server-side request forgery.

A merchant types the URL, and our workers, inside the provider's network, send to it: the
URL must not reach anything of ours. So:

- ``https`` only, unless ``WEBHOOKS_ALLOW_HTTP`` (on by default when ``DEBUG``);
- no user name or password in the URL, and no port but the usual ones and 1024 and up;
- the host name is resolved and every address it resolves to must be global: private,
  loopback, link-local (the cloud metadata service at 169.254.169.254), multicast,
  reserved, unspecified and shared (CGNAT) addresses are refused, IPv4 inside IPv6
  too. ``WEBHOOKS_ALLOW_LOOPBACK`` lets the tests reach a receiver on 127.0.0.1.
- the request then connects to the address checked here (``Target.address``), sending the
  name for ``Host`` and TLS (SNI, certificate): a DNS answer that changes between the
  check and the connection (DNS rebinding) cannot redirect it.

Redirects are never followed (``transport``): a 3xx is a failed attempt.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from merchants.exceptions import UnsafeWebhookURL

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True, kw_only=True)
class Target:
    scheme: str
    host: str  # the name, as typed (Host header, SNI, certificate)
    port: int
    path: str  # path and query
    address: str  # the checked address the request connects to


def _allowed_schemes() -> set[str]:
    return {"https", "http"} if settings.WEBHOOKS_ALLOW_HTTP else {"https"}


def url_parts(url: str) -> tuple[str, str, int, str]:
    """The scheme, host, port and path of ``url``, refused with ``UnsafeWebhookURL`` when
    its form alone is not allowed (no resolution)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise UnsafeWebhookURL("Enter a valid URL.", field="url") from None
    if parts.scheme not in _allowed_schemes():
        raise UnsafeWebhookURL("The URL must start with https://.", field="url")
    if not parts.hostname:
        raise UnsafeWebhookURL("The URL needs a host name.", field="url")
    if parts.username or parts.password:
        raise UnsafeWebhookURL("Leave the user name and password out of the URL.", field="url")
    if port is not None and port != _DEFAULT_PORTS[parts.scheme] and port < 1024:
        raise UnsafeWebhookURL("Use port 443, 80, or one from 1024 up.", field="url")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, parts.hostname, port or _DEFAULT_PORTS[parts.scheme], path


def address_refusal(address: Address) -> str | None:
    """Why a request may not go to ``address`` (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if settings.WEBHOOKS_ALLOW_LOOPBACK else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "an address that is not public"
    return None


def _resolve(host: str, port: int) -> list[Address]:
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeWebhookURL(f"The host name {host} does not resolve.", field="url") from None
    # An IPv6 address may carry a zone ("fe80::1%eth0"): the address is what is checked.
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]


def url_target(url: str) -> Target:
    """Check ``url`` and resolve its host: the address to connect to, or
    ``UnsafeWebhookURL``. Every address the name resolves to must be allowed, so a name
    with one public and one private address is refused."""
    scheme, host, port, path = url_parts(url)
    addresses = _resolve(host, port)
    if not addresses:
        raise UnsafeWebhookURL(f"The host name {host} does not resolve.", field="url")
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None:
            raise UnsafeWebhookURL(
                f"{host} resolves to {refusal} ({address}); webhooks go to public addresses only.",
                field="url",
            )
    return Target(scheme=scheme, host=host, port=port, path=path, address=str(addresses[0]))
