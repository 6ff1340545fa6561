"""Secret values replaced by their mark in text and JSON."""

from __future__ import annotations

import json

from infra.redact import Redactor, mark


def test_text_occurrences_become_the_mark():
    r = Redactor({"STRIPE_KEY": "sk_live_123"})
    assert r.text("token sk_live_123 and again sk_live_123.") == (
        "token [secret STRIPE_KEY] and again [secret STRIPE_KEY]."
    )
    assert r.text("nothing here") == "nothing here"


def test_the_longest_value_wins_when_one_contains_another():
    r = Redactor({"SHORT": "abc", "LONG": "abcdef"})
    assert r.text("abcdef abc") == f"{mark('LONG')} {mark('SHORT')}"


def test_json_stays_valid_and_escaped_values_are_found():
    r = Redactor({"Q": 'p"w\\d', "N": "4242"})
    text = json.dumps({"a": 'x p"w\\d y', 'p"w\\d': [4242, True, None], "n": 4242.5})

    out = json.loads(r.json_text(text))

    assert out == {"a": f"x {mark('Q')} y", mark("Q"): [mark("N"), True, None], "n": f"{mark('N')}.5"}


def test_nothing_read_nothing_changed():
    r = Redactor({"EMPTY": ""})
    assert not r
    assert r.json_text('{"a": ""}') == '{"a": ""}'
