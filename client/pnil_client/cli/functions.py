"""Commands on functions: new, ls, show, rm, versions, diff, rollback."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.syntax import Syntax

from pnil_client.cli.context import EXIT_FUNCTION_FAILED, State, err, out, pass_state, table
from pnil_client.cli.deploy import wait_settled
from pnil_client.models import Function

STARTERS = {
    "js": (
        ".js",
        "// pnil function: `input` is the parsed JSON input; return any JSON-compatible value.\n"
        "// `context` has executionId, functionId, version and trigger {type, ...}.\n"
        "function handle(input, context) {\n"
        "  console.log(`triggered by ${context.trigger.type}`);\n"
        '  return { hello: input.name ?? "world" };\n'
        "}\n",
    ),
    "py": (
        ".py",
        "# pnil function: `input` is the parsed JSON input; return any JSON-compatible value.\n"
        "# `context` has executionId, functionId, version and trigger {type, ...}.\n"
        "def handle(input, context=None):\n"
        "    print(f\"triggered by {context['trigger']['type']}\")\n"
        '    return {"hello": input.get("name", "world")}\n',
    ),
    "ts": (
        ".ts",
        "// pnil function (AssemblyScript): JSON text in, JSON text out.\n"
        'import { context } from "pnil";\n\n'
        "export function handle(input: string): string {\n"
        '  console.log("context: " + context());\n'
        "  return input;\n"
        "}\n",
    ),
}


@click.command()
@click.argument("name")
@click.option("--lang", type=click.Choice(sorted(STARTERS)), default="js", show_default=True)
@click.option("--force", is_flag=True, help="overwrite an existing file")
@pass_state
def new(state: State, name: str, lang: str, force: bool) -> None:
    """Write a starter function NAME.js, NAME.py or NAME.ts."""
    suffix, text = STARTERS[lang]
    path = Path(name if name.endswith(suffix) else name + suffix)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    path.write_text(text, encoding="utf-8")
    state.emit({"file": str(path)}, lambda: click.echo(f"wrote {path}; deploy it with: pnil deploy {path}"))


@click.command(name="ls")
@click.option("--state", "state_filter", help="only functions in this state")
@click.option("--tag", multiple=True, help="only functions with this tag (repeat: all of them)")
@click.option("--name", help="only names containing this")
@pass_state
def list_functions(state: State, state_filter: str | None, tag: tuple[str, ...], name: str | None) -> None:
    """List your functions."""
    found = state.client.list_functions(state=state_filter, tag=list(tag) or None, name=name)
    state.emit(
        found,
        lambda: table(
            ("NAME", "LANGUAGE", "TYPE", "STATUS", "STATE", "VERSION", "ID"),
            ((f.name, f.language, f.type, f.status, f.state, f.version, f.id) for f in found),
        ),
    )


@click.command()
@click.argument("name")
@click.option("--source", is_flag=True, help="also print the current source")
@pass_state
def show(state: State, name: str, source: bool) -> None:
    """Show one function."""
    fn = state.client.get_function(name)

    def human() -> None:
        rows = [
            ("id", fn.id),
            ("language", fn.language),
            ("status", fn.status),
            ("state", fn.state),
            ("version", fn.version),
            ("type", fn.type),
        ]
        rows += [(k, v) for k, v in _trigger_rows(fn) if v]
        rows += [
            ("limits", fn.resource_limits),
            ("tags", ", ".join(fn.tags or [])),
            ("updated", fn.updated_at),
        ]
        table(("FIELD", "VALUE"), rows)
        if fn.compile_error:
            err.print(f"[red]compile error:[/red] {escape(fn.compile_error)}")
        pending = fn.pending_version
        if pending:
            err.print(
                f"staged version {pending['version']} ({pending['status']}) is not serving yet"
                + (f": {escape(pending['compileError'])}" if pending.get("compileError") else "")
            )
        if source and fn.source:
            if not out.is_terminal:  # piped: the source exactly, nothing added
                click.echo(fn.source, nl=not fn.source.endswith("\n"))
                return
            lexer = {"assemblyscript": "typescript", "python": "python"}.get(fn.language, "javascript")
            out.print(Syntax(fn.source, lexer, line_numbers=True))

    state.emit(fn, human)


def _trigger_rows(fn: Function) -> list[tuple[str, Any]]:
    return [
        ("cron", fn.cron_expression),
        ("next run", fn.next_run_at),
        ("http path", fn.http_path),
        ("http methods", ", ".join(fn.http_methods or [])),
        ("events", ", ".join(fn.event_types or [])),
    ]


@click.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
@pass_state
def rm(state: State, name: str, yes: bool) -> None:
    """Delete a function with its versions and executions."""
    if not yes:
        click.confirm(f"delete {name} with all its versions and executions?", abort=True)
    state.client.delete_function(name)
    state.emit({"deleted": name}, lambda: click.echo(f"deleted {name}"))


@click.command()
@click.argument("name")
@pass_state
def versions(state: State, name: str) -> None:
    """List a function's versions, newest first."""
    found = state.client.versions(name)
    state.emit(
        found,
        lambda: table(
            ("VERSION", "LANGUAGE", "STATUS", "CREATED", "BY", "CHANGE"),
            (
                (v.number, v.language, v.status, v.created_at, v.created_by, v.change_description)
                for v in found
            ),
        ),
    )


@click.command()
@click.argument("name")
@click.argument("a", type=int)
@click.argument("b", type=int)
@pass_state
def diff(state: State, name: str, a: int, b: int) -> None:
    """Unified diff of version A's source to version B's."""
    text = state.client.diff(name, a, b)

    def human() -> None:
        if not out.is_terminal:  # piped or redirected: a valid patch, byte for byte
            click.echo(text, nl=False)
        elif text:
            out.print(Syntax(text, "diff"))
        else:
            err.print("(no changes)")

    state.emit({"diff": text}, human)


@click.command()
@click.argument("name")
@click.argument("version", type=int)
@click.option("-m", "--message", help="the change description (default: rollback to version N)")
@pass_state
def rollback(state: State, name: str, version: int, message: str | None) -> None:
    """Make version N's source current again (a new version)."""
    fn = state.client.rollback(name, version, message)
    if not fn.settled:
        with err.status(f"compiling {name}…"):
            fn = wait_settled(state, fn)
    state.emit(
        fn, lambda: click.echo(f"{fn.name} is version {fn.version} (source of {version}): {fn.status}")
    )
    if fn.status == "FAILED":
        sys.exit(EXIT_FUNCTION_FAILED)


COMMANDS = [new, list_functions, show, rm, versions, diff, rollback]
