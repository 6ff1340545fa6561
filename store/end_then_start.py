"""The executor's hot path in one statement: record how one queued execution ended and start the
next queued execution on the same connection.

A consumer thread of the executor runs its queued executions one after another on its own
connection. Instead of one statement (and one commit) for the end of one and another for the
start of the next, this statement does both: per execution, one round trip and one commit
instead of two. The two halves are the very CTEs of `attempts.finish` and
`executions.start_queued`, with their semantics (compare-and-set, slot, events, next attempt).

The slot of the execution that ended is freed by `pg_advisory_unlock(its key, its slot)`, not
`pg_advisory_unlock_all()`: the same statement may have taken the next one's slot. PostgreSQL's
advisory locks count per session, so when the next execution is of the same function and
retakes the same slot before the unlock runs, it still holds it once afterwards.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import psycopg

from store import attempts, workflows
from store import executions as queued
from store.day_partition import PARENT, day_table
from store.positional import Positional

_MAIN = "\nSELECT fn.*,"
_FROM = "\nFROM (SELECT 1) one LEFT JOIN fn ON true LEFT JOIN upd ON true"
# What the caller logs of the execution that ended (not its input, output or logs).
_ENDED_JSON = (
    "jsonb_build_object('id', id, 'function_id', function_id, 'status', status, 'error_message', "
    "error_message, 'trigger_type', trigger_type, 'retried', retried, 'attempt', attempt, "
    "'max_attempts', max_attempts, 'retry_policy', retry_policy)"
)


def _statement(
    *,
    retries: bool,
    end_in_day: bool,
    start_in_day: bool,
    member: bool = False,
    end_table: str = PARENT,
    start_table: str = PARENT,
) -> str:
    start = queued.start_queued_in_day(start_table) if start_in_day else queued._START_QUEUED_ANY_DAY
    ctes, main = start.split(_MAIN)
    select, rest = main.split(_FROM)
    # The ended run's completedAt is this statement's start: before the next one's startedAt,
    # which the start half sets later in the same statement (their times never overlap).
    end = attempts.end_ctes(
        retries=retries,
        created_at="%(end_created_at)s" if end_in_day else "",
        ended_at="statement_timestamp()",
        table=end_table,
        guard=workflows.MEMBER_GUARD if member else "",
    )
    unlock = "pg_advisory_unlock(%(end_slot_key)s::integer, %(end_slot)s::integer)"
    if member:
        # A member's end that is not recorded here (see `end_then_start`) keeps its slot until
        # the caller records it (a RUNNING execution whose slot is free looks lost to the
        # sweep), and the slot is freed only once the count-down is known: an unlock is not
        # undone when the statement rolls back.
        end = f"{end}, {workflows.MEMBER_COUNT_DOWN_CTE}"
        unlock = (
            f"CASE WHEN EXISTS (SELECT 1 FROM u) AND {workflows.MEMBER_COUNTED} IS NULL THEN {unlock} END"
        )
    return (
        f"{ctes}, {end}{_MAIN}{select},\n"
        f"       (SELECT {_ENDED_JSON} FROM u) AS ended, {attempts.end_selected(retries=retries)},\n"
        f"       {unlock} AS end_unlocked,\n"
        "       set_config('synchronous_commit', 'off', true) IS NOT NULL AS end_flushed"
        f"{_FROM}{rest}"
    )


_STATEMENTS = {
    (r, e, s, m): Positional.of(_statement(retries=r, end_in_day=e, start_in_day=s, member=m))
    for r in (False, True)
    for e in (False, True)
    for s in (False, True)
    for m in (False, True)
}


@lru_cache(maxsize=16)
def _on_days(retries: bool, member: bool, end_table: str, start_table: str) -> Positional:
    """The statement for an end and a start whose created_at are both known, on their day
    partitions (store/day_partition.py)."""
    return Positional.of(
        _statement(
            retries=retries,
            end_in_day=True,
            start_in_day=True,
            member=member,
            end_table=end_table,
            start_table=start_table,
        )
    )


def end_then_start(
    conn: psycopg.Connection,
    end: dict[str, Any],
    slot: tuple[int, int],
    start: dict[str, Any],
    join: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record an end (`end`: the parameters of `attempts.end_params`) and free its `slot`
    (slot_key, slot number), then start a queued execution (`start`: the parameters of
    `executions.start_queued_params`), in one statement that commits without waiting for its WAL
    flush (like both halves alone on the queued path).

    Returns `start_queued`'s row, plus `ended`: the ended execution's row (as JSON: ids and
    times are strings; id, function_id, status, error_message, trigger_type, retried, attempt,
    max_attempts, retry_policy) or None when it was no longer RUNNING, and `next_attempt_id`.

    `join` (the parameters of `workflows.member_end_params`): the end is a workflow group
    member's, recorded with the count-down of its join, and only when that is not the join's
    last member and its run has not ended: otherwise `ended` is None and the ended run still
    holds its slot, and the caller records the end with its whole hand-over.
    """
    retries = attempts.retries_possible(end["status"])
    member = join is not None
    if end["created_at"] is not None and start["created_at"] is not None:
        # A day that is gone raises UndefinedTable: the caller records the end, then the start,
        # each alone (executions/service.py), and those fall back to the parent table.
        statement = _on_days(retries, member, day_table(end["created_at"]), day_table(start["created_at"]))
    else:
        statement = _STATEMENTS[
            (retries, end["created_at"] is not None, start["created_at"] is not None, member)
        ]
    params = {**start, **{k: v for k, v in end.items() if k != "created_at"}, **(join or {})}
    params.update(end_created_at=end["created_at"], end_slot_key=slot[0], end_slot=slot[1])
    row = statement.execute(conn, params).fetchone()
    if isinstance(row["ended"], str):
        row["ended"] = json.loads(row["ended"])
    return row
