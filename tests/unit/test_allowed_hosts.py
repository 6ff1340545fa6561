"""allowedHosts patterns: which URLs match, and that non-public addresses need an exact entry."""

from __future__ import annotations

import pytest

from hostapi.allowed_hosts import HostNotAllowed, check, parse, pattern_error


@pytest.mark.parametrize(
    ("pattern", "url", "allowed"),
    [
        ("api.example.com", "https://api.example.com/x", True),
        ("api.example.com", "http://api.example.com/x", True),
        ("api.example.com", "https://api.example.com:8443/x", False),
        ("https://api.example.com", "http://api.example.com/", False),
        ("api.example.com:8443", "https://api.example.com:8443/", True),
        ("*.example.com", "https://a.b.example.com/", True),
        ("*.example.com", "https://example.com/", False),
        ("*.example.com", "https://evilexample.com/", False),
        ("*", "https://anything.test/", True),
        ("*", "https://anything.test:444/", False),
        ("*:*", "https://anything.test:444/", True),
        ("API.Example.com", "https://api.EXAMPLE.com/", True),
    ],
)
def test_pattern_matching(pattern, url, allowed):
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    assert parse(pattern).matches(parts.scheme, parts.hostname, port) is allowed


@pytest.mark.parametrize(
    "text", ["", "http://", "a b", "*.*.com", "x.com/path", "ftp://x.com", "x.com:99999999"]
)
def test_invalid_patterns_are_explained(text):
    assert pattern_error(text)


@pytest.mark.parametrize(
    ("patterns", "url"),
    [
        (["*:*"], "http://127.0.0.1:8080/"),
        (["*"], "http://10.1.2.3/"),
        (["*"], "http://169.254.169.254/"),
        (["*"], "http://[::1]/"),
        (["*"], "http://localhost/"),
    ],
)
def test_non_public_addresses_need_an_exact_entry(patterns, url):
    with pytest.raises(HostNotAllowed, match="non-public address"):
        check(url, patterns)


def test_an_exact_entry_allows_a_private_address_and_connects_to_the_checked_one():
    target = check("http://127.0.0.1:8080/a?b=1", ["http://127.0.0.1:8080"])
    assert (target.address, target.port, target.path) == ("127.0.0.1", 8080, "/a?b=1")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "gopher://x/", "http:///nohost", "http://x.com:bad/"])
def test_only_http_urls_with_a_host_are_fetched(url):
    with pytest.raises(HostNotAllowed):
        check(url, ["*:*"])
