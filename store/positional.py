"""Long statements with named parameters, converted once to PostgreSQL's `$n` placeholders.

psycopg converts a statement's `%(name)s` placeholders to `$n` on every `execute`, and caches
the conversion only for statements up to 4,096 bytes with at most 50 parameters. A longer
statement (the executor's end-then-start is 7-10 kB) is parsed again by a Python regex loop on
every call: about 0.06 ms of CPU per queued execution, 9 % of the executor's own. A `Positional`
statement is converted here, once, and runs through a `psycopg.RawCursor`, which sends it as is
(prepared after a few runs, like any other statement).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import RawCursor
from psycopg.rows import RowFactory, dict_row

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%.?")


@dataclass(frozen=True, slots=True, kw_only=True)
class Positional:
    """A statement in `$n` form (`sql`) and the parameter name of each `$n` (`names`)."""

    sql: bytes
    names: tuple[str, ...]

    @classmethod
    def of(cls, statement: str) -> Positional:
        """Convert `statement` (psycopg's named style: `%(name)s`, `%%` for a literal `%`);
        a name used twice is one parameter."""
        names: dict[str, int] = {}

        def replace(match: re.Match[str]) -> str:
            if match.group(1) is not None:
                number = names.setdefault(match.group(1), len(names) + 1)
                return f"${number}"
            if match.group(0) == "%%":
                return "%"
            raise ValueError(f"only %(name)s placeholders and %% are supported, not {match.group(0)!r}")

        converted = _PLACEHOLDER.sub(replace, statement)
        return cls(sql=converted.encode(), names=tuple(names))

    def execute(
        self,
        conn: psycopg.Connection,
        params: Mapping[str, Any],
        *,
        row_factory: RowFactory[Any] = dict_row,
    ) -> psycopg.Cursor[Any]:
        """Run the statement with `params` (by name; extra names are ignored) on `conn`."""
        cursor = RawCursor(conn, row_factory=row_factory)
        return cursor.execute(self.sql, [params[name] for name in self.names])
