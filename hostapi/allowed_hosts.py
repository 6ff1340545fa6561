"""Which URLs a function may fetch: Spin-style `allowedHosts` patterns and the private-address rule.

A pattern is `[scheme://]host[:port]`: `api.example.com` (https or http, default ports),
`https://api.example.com`, `*.example.com` (any subdomain), `example.com:8443`, `*` (any public
host), `http://127.0.0.1:8080`. Loopback, private, link-local and other non-public addresses are
refused unless a pattern names that host or address exactly (no wildcard): the check is made on
the addresses the name resolves to, and the connection goes to the address that was checked.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_PATTERN = re.compile(
    r"^(?:(?P<scheme>https?)://)?(?P<host>\*|(?:\*\.)?[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}|\*))?/?$"
)

# The rule as the OpenAPI document states it: the same, but an [IPv6] literal only without a
# scheme (the server also takes https://[...]; stated so, schemathesis crashes parsing generated
# bodies that hold such a URL with a non-address in the brackets).
PATTERN_TEXT = r"^(?:(?:https?://)?(\*|(?:\*\.)?[A-Za-z0-9.-]+)|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}|\*))?/?$"


class HostNotAllowed(Exception):
    """The URL is outside the function's allowedHosts, or points at a non-public address."""


@dataclass(frozen=True)
class HostPattern:
    scheme: str | None
    host: str  # lower case; "*" or "*.suffix" for wildcards
    port: int | None  # None: the scheme's default port; -1: any port

    @property
    def explicit(self) -> bool:
        return not self.host.startswith("*")

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if self.scheme is not None and self.scheme != scheme:
            return False
        if self.port == -1:
            pass
        elif (self.port if self.port is not None else DEFAULT_PORTS[scheme]) != port:
            return False
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and host != self.host[2:]
        return host == self.host


def pattern_error(text: object) -> str | None:
    """Why `text` is not a valid allowedHosts pattern, or None."""
    if not isinstance(text, str) or not _PATTERN.match(text.strip()):
        return f"{text!r} is not a host pattern: write host, *.domain, host:port or https://host"
    return None


def parse(text: str) -> HostPattern:
    found = _PATTERN.match(text.strip())
    if found is None:
        raise ValueError(pattern_error(text))
    port = found["port"]
    return HostPattern(
        scheme=found["scheme"],
        host=found["host"].lower().strip("[]"),
        port=-1 if port == "*" else (int(port) if port else None),
    )


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (a vetted address) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str  # path and query


def check(url: str, patterns: list[str]) -> Target:
    """The connection target for `url`, or HostNotAllowed saying why not."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    if scheme not in DEFAULT_PORTS:
        raise HostNotAllowed(f"only http and https URLs can be fetched, not {url[:200]!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise HostNotAllowed(f"the URL {url[:200]!r} has no host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise HostNotAllowed(f"the URL {url[:200]!r} has an invalid port") from exc
    matching = [p for p in map(parse, patterns) if p.matches(scheme, host, port)]
    if not matching:
        listed = ", ".join(patterns) if patterns else "none"
        raise HostNotAllowed(
            f"{scheme}://{host}:{port} is not in this function's allowedHosts ({listed}); "
            "add it to allowedHosts"
        )
    explicit = any(p.explicit for p in matching)
    address = _resolve(host, port, allow_private=explicit)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme=scheme, host=host, port=port, address=address, path=path)


def _resolve(host: str, port: int, *, allow_private: bool) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HostNotAllowed(f"cannot resolve {host}: {exc.strerror}") from exc
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise HostNotAllowed(
                    f"{host} resolves to the non-public address {address}; only an allowedHosts entry "
                    f"naming {host} exactly (no wildcard) permits it"
                )
    return addresses[0]
