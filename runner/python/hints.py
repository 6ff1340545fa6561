"""What to do about a Python import the sandbox cannot satisfy (pure logic)."""

from __future__ import annotations

import re

_MISSING = re.compile(r"ModuleNotFoundError: No module named '([^'.]+)")
# Packages people reach for to make HTTP calls: the sandbox's way out is pnil.fetch.
HTTP_PACKAGES = frozenset({"requests", "httpx", "urllib3", "aiohttp", "http3", "pycurl"})


def with_import_hint(message: str) -> str:
    """`message` plus what to do when it says a module is missing; unchanged otherwise."""
    found = _MISSING.search(message)
    if found is None:
        return message
    module = found.group(1)
    if module in HTTP_PACKAGES:
        hint = (
            f"{module} is not available: make HTTP requests with pnil.fetch "
            "(`from pnil import fetch`; r = fetch(url) → r.status, r.json()) to hosts listed in the "
            "function's allowedHosts"
        )
    else:
        hint = (
            f"{module} is not available: Python functions have the standard library bundled with the "
            "runtime only (the README lists it); packages from PyPI cannot be installed"
        )
    head, sep, rest = message.partition("\n")
    return f"{head} ({hint}){sep}{rest}"
