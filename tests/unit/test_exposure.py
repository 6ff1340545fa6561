"""Anonymous access only on loopback: the rule gunicorn's start-up applies."""

from __future__ import annotations

import pytest

from infra.exposure import AnonymousExposed, check_anonymous_bind, is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host):
    assert is_loopback((host, 8080))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "192.168.0.7", "example.com", ""])
def test_addresses_other_machines_reach(host):
    assert not is_loopback((host, 8080))


def test_a_unix_socket_is_local():
    assert is_loopback("/run/pnil.sock")


def test_anonymous_on_a_public_bind_is_refused_with_what_to_do():
    with pytest.raises(AnonymousExposed) as caught:
        check_anonymous_bind(allow_anonymous=True, allow_remote=False, addresses=[("0.0.0.0", 8080)])
    message = str(caught.value)
    assert "0.0.0.0:8080" in message and "HOST=127.0.0.1" in message
    assert "PNIL_ALLOW_ANONYMOUS_REMOTE" in message


def test_the_explicit_setting_allows_it_with_a_warning():
    warning = check_anonymous_bind(allow_anonymous=True, allow_remote=True, addresses=[("0.0.0.0", 80)])
    assert warning is not None and "ANYONE" in warning


@pytest.mark.parametrize(
    ("anonymous", "addresses"),
    [(True, [("127.0.0.1", 8080)]), (False, [("0.0.0.0", 8080)]), (True, ["/tmp/pnil.sock"])],
)
def test_nothing_to_say(anonymous, addresses):
    assert check_anonymous_bind(allow_anonymous=anonymous, allow_remote=False, addresses=addresses) is None
