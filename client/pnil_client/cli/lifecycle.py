"""Lifecycle commands: pause, resume, state (a function's), cancel (an execution)."""

from __future__ import annotations

import click

from pnil_client.cli.context import State, out, pass_state
from pnil_client.models import Function

STATES = ("DRAFT", "ACTIVE", "PAUSED", "DISABLED", "ARCHIVED")


def _said(state: State, fn: Function) -> None:
    allowed = ", ".join(fn.raw.get("allowedTransitions") or []) or "none"
    state.emit(fn, lambda: out.print(f"{fn.name} is {fn.state} (can go to: {allowed})", markup=False))


@click.command()
@click.argument("name")
@pass_state
def pause(state: State, name: str) -> None:
    """Stop a function from running (calls are refused, triggers do not fire) until resumed."""
    _said(state, state.client.set_state(name, "PAUSED"))


@click.command()
@click.argument("name")
@pass_state
def resume(state: State, name: str) -> None:
    """Make a paused (or draft) function ACTIVE again."""
    _said(state, state.client.set_state(name, "ACTIVE"))


@click.command(name="state")
@click.argument("name")
@click.argument("new_state", required=False, type=click.Choice(STATES, case_sensitive=False))
@pass_state
def state_command(state: State, name: str, new_state: str | None) -> None:
    """Show a function's lifecycle state, or move it to NEW_STATE."""
    fn = state.client.set_state(name, new_state.upper()) if new_state else state.client.get_function(name)
    _said(state, fn)


@click.command()
@click.argument("execution_id")
@pass_state
def cancel(state: State, execution_id: str) -> None:
    """Cancel a PENDING or RUNNING execution."""
    execution = state.client.cancel(execution_id)
    state.emit(execution, lambda: out.print(f"{execution.id}: {execution.status}", markup=False))


COMMANDS = [pause, resume, state_command, cancel]
