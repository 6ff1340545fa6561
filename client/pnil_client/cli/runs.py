"""Commands that run functions and read what they did: invoke, logs."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.markup import escape

from pnil_client.cli.context import EXIT_FUNCTION_FAILED, State, err, out, pass_state
from pnil_client.models import Execution


@click.command()
@click.argument("name")
@click.option("--input", "-i", "input_text", default="{}", help="JSON object input, or - to read stdin")
@click.option("--async", "queued", is_flag=True, help="queue it (POST /executions) and wait for the result")
@click.option("--timeout", default=300.0, show_default=True, help="seconds to wait with --async")
@pass_state
def invoke(state: State, name: str, input_text: str, queued: bool, timeout: float) -> None:
    """Run a function and print its output; exit 1 when it FAILED or timed out."""
    text = sys.stdin.read() if input_text == "-" else input_text
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--input") from exc
    if not isinstance(value, dict):
        raise click.BadParameter("the input must be a JSON object, e.g. '{\"n\": 1}'", param_hint="--input")
    if queued:
        execution = state.client.submit(name, value).result(timeout)
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


COMMANDS = [invoke, logs]
