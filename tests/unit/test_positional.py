"""store/positional.py: a named-parameter statement converted once to `$n` placeholders."""

from __future__ import annotations

import psycopg
import pytest

from store import attempts, end_then_start
from store.positional import Positional


def test_names_become_numbers_in_order_of_first_use_and_a_repeated_name_is_one_parameter():
    statement = Positional.of("SELECT %(b)s, %(a)s, %(b)s::int, 'x%%' LIKE '%%y'")

    assert statement.sql == b"SELECT $1, $2, $1::int, 'x%' LIKE '%y'"
    assert statement.names == ("b", "a")


@pytest.mark.parametrize("statement", ["SELECT %s", "SELECT %(a)b", "SELECT 1 %"])
def test_other_placeholders_are_refused(statement):
    with pytest.raises(ValueError, match="only %\\(name\\)s placeholders"):
        Positional.of(statement)


def test_the_executor_statements_are_those_psycopg_would_send():
    """Byte for byte what psycopg's own conversion makes of the named statement, so PostgreSQL
    plans and runs the very same statement as before."""
    pairs = [
        (
            end_then_start._STATEMENTS[(r, e, s, m)],
            end_then_start._statement(retries=r, end_in_day=e, start_in_day=s, member=m),
        )
        for r, e, s, m in end_then_start._STATEMENTS
    ]
    pairs += [
        (attempts._FINISH[(r, d, o)], attempts._finish_sql(retries=r, in_day=d, one_slot=o))
        for r, d, o in attempts._FINISH
    ]
    for positional, text in pairs:
        query, _, order, _ = psycopg._queries._query2pg_nocache(text.encode(), "utf-8")
        assert positional.sql == query
        assert positional.names == tuple(order)
