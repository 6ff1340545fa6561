"""HTTP trigger routing and event subscription patterns (pure logic)."""

from __future__ import annotations

import pytest

from events.names import matches, pattern_error, type_error
from functions.routing import InvalidPattern, check, overlaps, resolve


def binding(path, methods=(), name=None):
    return {"http_path": path, "http_methods": list(methods), "name": name or path}


def test_exact_paths_win_over_parameters_and_wildcards():
    bindings = [binding("/users/*"), binding("/users/{id}"), binding("/users/me")]
    assert resolve(bindings, "GET", "users/me").binding["name"] == "/users/me"
    found = resolve(bindings, "GET", "users/42")
    assert found.binding["name"] == "/users/{id}" and found.params == {"id": "42"}
    found = resolve(bindings, "GET", "users/42/avatar.png")
    assert found.binding["name"] == "/users/*" and found.params == {"*": "42/avatar.png"}


def test_a_bound_path_with_another_method_lists_the_allowed_ones():
    found = resolve([binding("/hook", ["POST"]), binding("/hook2")], "GET", "hook")
    assert found.binding is None and found.allowed == ("POST",)
    assert resolve([binding("/hook", ["POST"])], "GET", "nothing").allowed == ()


def test_no_methods_means_every_method_and_head_follows_get():
    assert resolve([binding("/x")], "DELETE", "x").binding is not None
    assert resolve([binding("/x", ["GET"])], "HEAD", "x").binding is not None


def test_overlap_is_same_shape_and_a_shared_method():
    assert overlaps("/users/{id}", [], "/users/{uid}", ["GET"])
    assert not overlaps("/users/{id}", ["GET"], "/users/{id}", ["POST"])
    assert not overlaps("/users/me", [], "/users/{id}", [])
    assert overlaps("/static/*", [], "static/*", [])


@pytest.mark.parametrize("bad", ["/a/*/b", "/a b", "/{1x}", "/{id}/{id}", "/a?b"])
def test_invalid_patterns(bad):
    with pytest.raises(InvalidPattern):
        check(bad)


def test_event_patterns():
    assert matches("order.created", "order.created") and not matches("order.created", "order.updated")
    assert matches("order.*", "order.created") and matches("order.*", "order.item.added")
    assert not matches("order.*", "orders.created") and not matches("order.*", "order")
    assert matches("*", "anything.at.all")
    assert type_error("order.created") is None and type_error("bad type") and type_error("x" * 201)
    assert pattern_error("order.*") is None and pattern_error("or*der") and pattern_error("a.*.b")
