"""JSON text of a value, fast: orjson (a tenth of the json module's time), and the json module
for what orjson refuses (integers past 64 bits, keys that are not strings, lone surrogates).
And the reverse for JSON that PostgreSQL wrote (`loads_stored`, psycopg's jsonb loader).

For the texts pnil writes on every request (log lines, API answers, what a sandbox is given).
The output is the json module's with compact separators, except that non-ASCII characters are
written as UTF-8 even when `ensure_ascii` is asked for (escapes stay for the fallback's cases),
and NaN or infinity becomes null (pnil never stores either: jsonb refuses them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

# Dates and dataclasses go to `default`, as with the json module (orjson would format them itself).
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def dumps(value: Any, *, default: Callable[[Any], Any] | None = None, ensure_ascii: bool = False) -> str:
    """`json.dumps(value, separators=(",", ":"), default=default)`, by orjson where it can."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError: what only the json module writes (or nothing can)
        return json.dumps(value, default=default, ensure_ascii=ensure_ascii, separators=(",", ":"))


# orjson reads an integer past 64 bits as a float; the json module keeps it exact. A run of 19
# digits is where that can start (it also sends long decimals and digit strings the slow way).
_LONG_NUMBER = re.compile(rb"\d{19}")


def loads_stored(data: bytes) -> Any:
    """`json.loads(data)` for JSON that PostgreSQL wrote (valid UTF-8, no NaN, no lone
    surrogates), by orjson unless a number may be too long for it."""
    if _LONG_NUMBER.search(data) is None:
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:  # e.g. nested past orjson's limit: the json module decides
            pass
    return json.loads(data)
