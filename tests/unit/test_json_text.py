"""infra/json_text.py: orjson where it gives the json module's answer, the json module elsewhere."""

from __future__ import annotations

import dataclasses
import datetime
import json
import random
import uuid

import pytest

from infra.json_text import dumps, loads_stored


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(9 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([0, 1, -1, 2**31, 2**63 - 1, -(2**63), 2**63, 2**64 + 1, 10**30, -(10**40)])
    if kind == 1:
        return rng.choice([0.0, -0.0, 0.1, 1.5, 1e300, -2.5e-308, 123456.789, 0.1234567890123456789])
    if kind == 2:
        return "".join(rng.choice('aé字"\\\n\t😀 ') for _ in range(rng.randrange(12)))
    if kind == 3:
        return rng.choice([True, False, None])
    if kind == 4:
        return str(rng.randrange(10**25))
    if kind == 5:
        return rng.randrange(-1000, 1000)
    if kind == 6:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {f"k{i}é": _value(rng, depth + 1) for i in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(200))
def test_dumps_and_loads_stored_agree_with_the_json_module(seed):
    value = _value(random.Random(seed))
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(dumps(value)) == value
    loaded = loads_stored(text.encode())
    assert loaded == json.loads(text)
    assert json.dumps(loaded) == json.dumps(json.loads(text))  # same types too (no int read as float)


def test_integers_past_64_bits_stay_exact():
    assert loads_stored(b'{"n": 123456789012345678901234567890}') == {"n": 123456789012345678901234567890}
    assert dumps({"n": 2**70}) == '{"n":1180591620717411303424}'


def test_what_orjson_refuses_is_written_by_the_json_module():
    assert dumps({1: "a"}) == '{"1":"a"}'
    assert dumps({"s": "\ud800"}, ensure_ascii=True) == '{"s":"\\ud800"}'


def test_dates_and_dataclasses_go_to_default_as_with_the_json_module():
    @dataclasses.dataclass
    class Point:
        x: int

    moment = datetime.datetime(2026, 12, 3, 12, 0, tzinfo=datetime.UTC)
    assert dumps({"at": moment}, default=str) == json.dumps(
        {"at": moment}, default=str, separators=(",", ":")
    )
    assert dumps([Point(1)], default=lambda point: point.x) == "[1]"
    assert dumps({"id": uuid.UUID(int=1)}) == '{"id":"00000000-0000-0000-0000-000000000001"}'
    with pytest.raises(TypeError):
        dumps({"at": moment})
