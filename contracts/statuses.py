"""Every status of pnil in one place, and the rule that says which function may run.

A function has a compile status (`CompileStatus`, also a stored version's) and a lifecycle state
(`LifecycleState`, also a named workflow's); an execution has an `ExecutionStatus` (a workflow run
takes the same values but TIMEOUT, `WORKFLOW_RUN_STATUSES`). The database stores the values as
text (the migrations' CHECK constraints list them too). Code outside this module, the migrations
and the tests writes no status as a string: Python compares with the members (a StrEnum member
equals its text), SQL is built from them (`f"status = '{ExecutionStatus.PENDING}'"`), and
`tests/unit/test_statuses.py` fails on a status literal anywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any


class CompileStatus(StrEnum):
    """Where a function's source (or a stored version's) is on its way to an artifact."""

    PENDING = "PENDING"
    COMPILING = "COMPILING"
    READY = "READY"
    FAILED = "FAILED"


class LifecycleState(StrEnum):
    """DRAFT → ACTIVE ↔ PAUSED, ACTIVE/PAUSED → DISABLED → ARCHIVED (store/lifecycle.py moves them)."""

    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    ARCHIVED = "ARCHIVED"


class ExecutionStatus(StrEnum):
    """PENDING → RUNNING → one of the four ends; a run in the sandbox ends in one of those four."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMEOUT = "TIMEOUT"
    CANCELLED = "CANCELLED"


class Readiness(StrEnum):
    """A process's answer on GET /ready."""

    READY = "READY"
    NOT_READY = "NOT_READY"


# Not ended yet: queued or running (an execution, or a workflow run).
UNFINISHED = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
# A workflow run's statuses: an execution's but TIMEOUT (a timed-out step fails its run).
WORKFLOW_RUN_STATUSES = tuple(status for status in ExecutionStatus if status is not ExecutionStatus.TIMEOUT)


def is_runnable(function: Mapping[str, Any]) -> bool:
    """The runnable rule: a function runs (and its triggers fire) only when READY and ACTIVE."""
    return function["status"] == CompileStatus.READY and function["state"] == LifecycleState.ACTIVE


def runnable_sql(alias: str | None = None) -> str:
    """The runnable rule as an SQL condition on a `functions` row (`alias.status`, `alias.state`)."""
    column = f"{alias}." if alias else ""
    return f"{column}status = '{CompileStatus.READY}' AND {column}state = '{LifecycleState.ACTIVE}'"


def sql_list(values: Iterable[StrEnum]) -> str:
    """An SQL list of status literals, for `status IN (...)`: `('PENDING', 'RUNNING')`."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"
