"""Commands that run functions and read what they did: invoke, replay, failed, logs."""

from __future__ import annotations

import json
import re
import sys
import time

import click
from rich.markup import escape

from pnil_client.cli.context import EXIT_FUNCTION_FAILED, State, err, out, pass_state, table
from pnil_client.models import Execution

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def duration_ms(text: str) -> int:
    """`30s`, `500ms`, `2m`, `1h`, `1d` (a bare number is seconds) in milliseconds."""
    match = _DURATION.match(text)
    if match is None:
        raise click.BadParameter(
            f"{text!r} is not a duration like 30s, 500ms, 2m, 1h or 1d", param_hint="--delay"
        )
    return round(float(match.group(1)) * _UNIT_MS[match.group(2) or "s"])


@click.command()
@click.argument("name")
@click.option("--input", "-i", "input_text", default="{}", help="JSON object input, or - to read stdin")
@click.option("--async", "queued", is_flag=True, help="queue it (POST /executions) and wait for the result")
@click.option(
    "--delay", default=None, help="with --async: start no sooner than this (30s, 5m, 1h; at most 30d)"
)
@click.option("--timeout", default=300.0, show_default=True, help="seconds to wait with --async")
@pass_state
def invoke(state: State, name: str, input_text: str, queued: bool, delay: str | None, timeout: float) -> None:
    """Run a function and print its output; exit 1 when it FAILED or timed out.

    A queued run is followed through its retries to the last attempt."""
    text = sys.stdin.read() if input_text == "-" else input_text
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--input") from exc
    if not isinstance(value, dict):
        raise click.BadParameter("the input must be a JSON object, e.g. '{\"n\": 1}'", param_hint="--input")
    if delay is not None:
        queued = True  # only a queued execution can wait
        timeout += duration_ms(delay) / 1000.0
    if queued:
        handle = state.client.submit(name, value, delay_ms=duration_ms(delay) if delay else None)
        execution = handle.result(timeout)
    else:
        execution = state.client.invoke(name, value)
    state.emit(execution, lambda: _print_result(execution))
    if execution.status != "COMPLETED":
        sys.exit(EXIT_FUNCTION_FAILED)


def _print_result(execution: Execution) -> None:
    if execution.logs:
        err.print(escape(execution.logs.rstrip("\n")), style="dim")
    if execution.status == "COMPLETED":
        click.echo(json.dumps(execution.output, indent=2, ensure_ascii=False))
    else:
        err.print(f"[red]{execution.status}:[/red] {escape(execution.error_message or '')}")
    duration = execution.duration_ms
    err.print(
        f"execution {execution.id} · {duration:.1f} ms" if duration is not None else execution.id, style="dim"
    )


@click.command()
@click.argument("execution_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--latest", is_flag=True, help="run the function's latest version (default: the same one)")
@click.option("--input", "-i", "input_text", default=None, help="JSON object replacing the original input")
@click.option("--no-wait", is_flag=True, help="print the new executions' ids instead of waiting for them")
@click.option("--timeout", default=300.0, show_default=True, help="seconds to wait for each")
@pass_state
def replay(
    state: State,
    execution_ids: tuple[str, ...],
    latest: bool,
    input_text: str | None,
    no_wait: bool,
    timeout: float,
) -> None:
    """Run finished executions again (their input, their version unless --latest); exit 1 when one
    of them FAILED or timed out again."""
    value = json.loads(input_text) if input_text is not None else None
    handles = [state.client.replay(eid, latest=latest, input=value) for eid in execution_ids]
    if no_wait:
        state.emit([h.execution for h in handles], lambda: [out.print(h.id) for h in handles])
        return
    failed = False
    for handle in handles:
        execution = handle.result(timeout)
        state.emit(execution, lambda execution=execution: _print_result(execution))
        failed = failed or execution.status != "COMPLETED"
    if failed:
        sys.exit(EXIT_FUNCTION_FAILED)


@click.command()
@click.option("--limit", "-n", default=50, show_default=True, help="how many, newest first")
@pass_state
def failed(state: State, limit: int) -> None:
    """List queued executions that failed for good (no retry left), across functions."""
    rows = state.client.failed(limit=limit)
    state.emit(
        rows,
        lambda: table(
            ("ID", "FUNCTION", "ATTEMPT", "STATUS", "ENDED", "ERROR"),
            (
                (
                    e.id,
                    e.function_id,
                    f"{e.attempt}/{e.max_attempts}",
                    e.status,
                    e.completed_at,
                    escape((e.error_message or "").splitlines()[0][:80] if e.error_message else ""),
                )
                for e in rows
            ),
        ),
    )


@click.command()
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="keep printing new executions as they finish")
@click.option("--limit", "-n", default=10, show_default=True, help="how many recent executions to show first")
@click.option("--interval", default=1.0, show_default=True, help="seconds between polls with --follow")
@pass_state
def logs(state: State, name: str, follow: bool, limit: int, interval: float) -> None:
    """Print the logs of a function's recent executions (oldest first)."""
    first = state.client.executions(name, limit=max(limit, 100))
    # Every execution that had finished already counts as seen, shown or not: --follow then
    # prints only the ones that finish from now on.
    seen = {e.id for e in first if e.finished}
    for execution in reversed([e for e in first if e.finished][:limit]):
        print_logs(state, execution)
    while follow:
        time.sleep(interval)
        fresh = [e for e in state.client.executions(name, limit=100) if e.finished and e.id not in seen]
        for execution in reversed(fresh):
            seen.add(execution.id)
            print_logs(state, execution)


def print_logs(state: State, execution: Execution) -> None:
    """One execution: its status line, logs and error (one JSON line with --json)."""
    if state.as_json:
        click.echo(json.dumps(execution.raw, ensure_ascii=False))  # one JSON object per line
        return
    colour = "green" if execution.status == "COMPLETED" else "red"
    out.print(
        f"[{colour}]{execution.status}[/{colour}] {execution.completed_at or ''} "
        f"{execution.trigger_type} v{execution.function_version} {execution.id}"
    )
    for line in (execution.logs or "").splitlines():
        out.print(f"  {escape(line)}")
    if execution.error_message:
        out.print(f"  [red]{escape(execution.error_message)}[/red]")


COMMANDS = [invoke, replay, failed, logs]
