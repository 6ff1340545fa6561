"""Statuses have one home (contracts/statuses.py): no status string literal anywhere else."""

from __future__ import annotations

import ast
import itertools
import re
from pathlib import Path

import pytest

from contracts.statuses import (
    UNFINISHED,
    WORKFLOW_RUN_STATUSES,
    CompileStatus,
    ExecutionStatus,
    LifecycleState,
    Readiness,
    is_runnable,
    runnable_sql,
    sql_list,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ENUMS = (CompileStatus, LifecycleState, ExecutionStatus, Readiness)
VALUES = {member.value for enum in ENUMS for member in enum}
SQL_LITERAL = re.compile(r"'(" + "|".join(sorted(VALUES)) + r")'")
HOME = PROJECT_ROOT / "contracts" / "statuses.py"
# Where status text may be written: the home, the SQL migrations (and the migrator), the tests,
# the SDK/CLI (a separate distribution that knows the API only), the code a sandbox guest runs.
NOT_SCANNED = {"migrations", "tests", "client", ".venv", "node_modules", ".git"}


def scanned_files() -> list[Path]:
    files = []
    for path in sorted(PROJECT_ROOT.rglob("*.py")):
        parts = path.relative_to(PROJECT_ROOT).parts
        if parts[0] in NOT_SCANNED or "guest" in parts or ".local" in parts or path == HOME:
            continue
        files.append(path)
    return files


def status_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant (docstrings aside) equal to a status or holding one
    as an SQL literal ('PENDING'); f-strings are checked in their literal parts only."""
    tree = ast.parse(source)
    docstrings = {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if node.value in VALUES or SQL_LITERAL.search(node.value):
                found.append((node.lineno, node.value[:80]))
    return found


def test_no_status_literal_outside_its_home():
    offenders = {
        str(path.relative_to(PROJECT_ROOT)): hits
        for path in scanned_files()
        if (hits := status_literals(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, "write statuses with contracts.statuses (SQL: f\"'{ExecutionStatus.PENDING}'\")"


def test_the_scan_finds_literals_and_lets_members_pass():
    source = (
        '"""A docstring may say status = \'PENDING\'."""\n'
        'a = "READY"\n'
        "b = \"UPDATE executions SET status = 'CANCELLED'\"\n"
        "c = f\"WHERE state = '{LifecycleState.ACTIVE}'\"\n"
        'd = row["status"] == ExecutionStatus.RUNNING\n'
        'e = "READY to go"\n'
    )
    assert status_literals(source) == [(2, "READY"), (3, "UPDATE executions SET status = 'CANCELLED'")]


@pytest.mark.parametrize("enum", ENUMS)
def test_a_member_is_its_name_and_equals_its_text(enum):
    # name == value: a member hashes like its text, so it finds a dict entry keyed by the text
    for member in enum:
        assert member.name == member.value == str(member) == f"{member}"
        assert {member.value: 1}[member] == 1


def test_the_runnable_rule_is_ready_and_active():
    for status, state in itertools.product(CompileStatus, LifecycleState):
        expected = status is CompileStatus.READY and state is LifecycleState.ACTIVE
        assert is_runnable({"status": status.value, "state": state.value}) is expected
    assert runnable_sql("fn") == "fn.status = 'READY' AND fn.state = 'ACTIVE'"
    assert runnable_sql() == "status = 'READY' AND state = 'ACTIVE'"


def test_the_run_statuses_and_sql_lists():
    assert ExecutionStatus.TIMEOUT not in WORKFLOW_RUN_STATUSES
    assert set(WORKFLOW_RUN_STATUSES) | {ExecutionStatus.TIMEOUT} == set(ExecutionStatus)
    assert sql_list(UNFINISHED) == "('PENDING', 'RUNNING')"
