"""The statuses of contracts/statuses.py are the database's, and the runnable rule's SQL fragment
says what its Python predicate says."""

from __future__ import annotations

import itertools
import re

import pytest

from contracts.statuses import (
    WORKFLOW_RUN_STATUSES,
    CompileStatus,
    ExecutionStatus,
    LifecycleState,
    is_runnable,
    runnable_sql,
)


def check_values(db, table: str, column: str) -> set[str]:
    """The values the CHECK constraint of table.column allows."""
    definitions = db.execute(
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "WHERE t.relname = %s AND c.contype = 'c'",
        (table,),
    ).fetchall()
    for (definition,) in definitions:
        if re.search(rf"\(\(?{column}\b.*= ANY", definition) or f"({column} = ANY" in definition:
            return set(re.findall(r"'([A-Z_]+)'::text", definition))
    raise AssertionError(f"no CHECK constraint listing {table}.{column}: {definitions}")


@pytest.mark.parametrize(
    ("table", "column", "values"),
    [
        ("functions", "status", set(CompileStatus)),
        ("functions", "state", set(LifecycleState)),
        ("executions", "status", set(ExecutionStatus)),
        ("workflow_runs", "status", set(WORKFLOW_RUN_STATUSES)),
    ],
)
def test_the_enums_are_the_database_checks(db, table, column, values):
    assert check_values(db, table, column) == {value.value for value in values}


def test_the_runnable_sql_fragment_agrees_with_the_predicate(db):
    pairs = list(itertools.product(CompileStatus, LifecycleState))
    rows = db.execute(
        f"SELECT v.status, v.state, {runnable_sql('v')} "
        "FROM unnest(%s::text[], %s::text[]) AS v(status, state)",
        ([status.value for status, _ in pairs], [state.value for _, state in pairs]),
    ).fetchall()

    assert len(rows) == len(pairs)
    for status, state, runnable in rows:
        assert runnable is is_runnable({"status": status, "state": state}), (status, state)
    assert sum(runnable for *_, runnable in rows) == 1
