"""`pnil secrets set|ls|rm`: the tenant's secrets. A value is read from stdin or a prompt, never
from the command line (where the shell history and `ps` would keep it)."""

from __future__ import annotations

import sys

import click

from pnil_client.cli.context import State, err, pass_state, table


@click.group()
def secrets() -> None:
    """Manage the secrets your functions read with pnil.secrets.get (values are write-only)."""


@secrets.command(name="set")
@click.argument("name")
@pass_state
def set_secret(state: State, name: str) -> None:
    """Set NAME from stdin (piped) or a hidden prompt; a trailing newline of piped input is dropped."""
    if sys.stdin.isatty():
        value = click.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    if not value:
        raise click.UsageError("the value is empty: pipe it in (pnil secrets set NAME < file) or type it")
    secret = state.client.set_secret(name, value)
    state.emit(secret, lambda: err.print(f"set {secret.name} (version {secret.version})"))


@secrets.command(name="ls")
@pass_state
def list_secrets(state: State) -> None:
    """Names, versions and times (never the values)."""
    found = state.client.list_secrets()
    state.emit(
        found,
        lambda: table(
            ("NAME", "VERSION", "CREATED", "UPDATED"),
            ((s.name, s.version, s.created_at, s.updated_at) for s in found),
        ),
    )


@secrets.command(name="rm")
@click.argument("name")
@pass_state
def delete_secret(state: State, name: str) -> None:
    """Delete NAME; functions that declare it fail to read it from now on."""
    state.client.delete_secret(name)
    state.emit({"deleted": name}, lambda: click.echo(f"deleted {name}"))


COMMANDS = [secrets]
