"""Anonymous access is for a server only this machine can reach: the check made at start."""

from __future__ import annotations

import ipaddress


class AnonymousExposed(Exception):
    """Anonymous access is on and the server listens where other machines can reach it."""


def is_loopback(address: object) -> bool:
    """True for a (host, port) on a loopback interface, or a Unix socket path."""
    if isinstance(address, str | bytes):
        return True  # a Unix socket: only this machine connects to it
    host = str(address[0]).strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_anonymous_bind(*, allow_anonymous: bool, allow_remote: bool, addresses: list) -> str | None:
    """Raise AnonymousExposed, or return the warning to log loudly (None: nothing to say)."""
    exposed = [a for a in addresses if not is_loopback(a)]
    if not allow_anonymous or not exposed:
        return None
    where = ", ".join(f"{a[0]}:{a[1]}" for a in exposed)
    if not allow_remote:
        raise AnonymousExposed(
            f"refusing to start: anonymous access is on (PNIL_ALLOW_ANONYMOUS) and the server listens on "
            f"{where}, which other machines can reach. Listen on 127.0.0.1 (HOST=127.0.0.1), or turn "
            "anonymous access off and use API keys (python -m web.keys create TENANT); to accept this "
            "anyway set PNIL_ALLOW_ANONYMOUS_REMOTE=1"
        )
    return (
        f"WARNING: anonymous access is on and the server listens on {where}: ANYONE who can reach it "
        "acts as tenant 'default' without a key (PNIL_ALLOW_ANONYMOUS_REMOTE=1)"
    )
