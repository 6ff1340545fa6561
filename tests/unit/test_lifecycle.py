"""Lifecycle transitions (README: the lifecycle state)."""

import pytest

from store.lifecycle import STATES, transition_error

ALLOWED = {
    ("DRAFT", "ACTIVE"),
    ("ACTIVE", "PAUSED"),
    ("PAUSED", "ACTIVE"),
    ("ACTIVE", "DISABLED"),
    ("PAUSED", "DISABLED"),
    ("DISABLED", "ARCHIVED"),
}


@pytest.mark.parametrize("current", STATES)
@pytest.mark.parametrize("wanted", STATES)
def test_exactly_the_documented_transitions_are_allowed(current, wanted):
    allowed = current == wanted or (current, wanted) in ALLOWED
    assert (transition_error(current, wanted) is None) is allowed


def test_the_error_names_what_is_allowed():
    assert transition_error("DISABLED", "ACTIVE") == (
        "a DISABLED function cannot become ACTIVE; allowed from DISABLED: ARCHIVED"
    )
    assert "ARCHIVED is final" in transition_error("ARCHIVED", "ACTIVE")
