"""Commands on functions: new, deploy, ls, show, rm, versions, diff, rollback."""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.syntax import Syntax

from pnil_client.cli.context import EXIT_FUNCTION_FAILED, State, err, out, pass_state, table
from pnil_client.errors import NotFound
from pnil_client.models import Function

LANGUAGES = {
    ".ts": "assemblyscript",
    ".js": "javascript",
    ".mjs": "javascript",
    ".py": "python",
    ".wasm": "wasm",
}
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
# "input.ts(2,16)" from asc, "line 3, column 14" from the JavaScript and Python checks.
_POSITIONS = (re.compile(r"input\.ts\((\d+),(\d+)\)"), re.compile(r"line (\d+), column (\d+)"))


@click.command()
@click.argument("name")
@click.option("--lang", type=click.Choice(sorted(STARTERS)), default="js", show_default=True)
@click.option("--force", is_flag=True, help="overwrite an existing file")
def new(name: str, lang: str, force: bool) -> None:
    """Write a starter function NAME.js, NAME.py or NAME.ts."""
    suffix, text = STARTERS[lang]
    path = Path(name if name.endswith(suffix) else name + suffix)
    if path.exists() and not force:
        raise click.ClickException(f"{path} exists; pass --force to overwrite it")
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}; deploy it with: pnil deploy {path}")


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="the function's name (default: the file name without extension)")
@click.option("--cron", help='run on a schedule, e.g. "*/5 * * * *"')
@click.option("--timezone", help="the schedule's IANA timezone (default UTC)")
@click.option("--http", "http_path", help="serve it at /http/{tenant}/PATH")
@click.option("--methods", multiple=True, help="HTTP methods for --http (repeat; default GET)")
@click.option("--events", multiple=True, help="event type patterns to subscribe to (repeat)")
@click.option("--limit", "limits", multiple=True, help="a resource limit, e.g. maxExecutionTimeMs=2000")
@click.option("--description", help="what the function does")
@click.option("-m", "--message", help="the change description of this version")
@click.option("--no-wait", is_flag=True, help="return at once instead of waiting for the compile")
@pass_state
def deploy(state: State, file: Path, name: str | None, **options: Any) -> None:
    """Create or update the function FILE (.ts, .js, .py or .wasm) by name and wait until it is READY."""
    language = LANGUAGES.get(file.suffix.lower())
    if language is None:
        raise click.BadParameter(f"use a .ts, .js, .py or .wasm file, not {file.suffix or 'no extension'}")
    raw = file.read_bytes()
    source = base64.b64encode(raw).decode() if language == "wasm" else raw.decode("utf-8")
    name = name or file.stem
    body = {"language": language, "source": source} | _settings(options)
    try:
        state.client.get_function(name)
    except NotFound:
        fn = state.client.create_function(name, **body)
        verb = "created"
    else:
        if options["message"]:
            body["changeDescription"] = options["message"]
        fn = state.client.update_function(name, **body)
        verb = "updated"
    if not options["no_wait"] and not fn.settled:
        with err.status(f"compiling {name} (version {fn.version})…"):
            fn = _wait_settled(state, fn)
    state.emit(fn, lambda: err.print(f"{verb} {escape(fn.name)} version {fn.version}: {fn.status}"))
    if fn.status == "FAILED":
        if not state.as_json:
            show_compile_error(fn.compile_error or "", raw.decode("utf-8", "replace"), file)
        sys.exit(EXIT_FUNCTION_FAILED)


def _settings(options: dict[str, Any]) -> dict[str, Any]:
    """The API fields the deploy flags ask for."""
    body: dict[str, Any] = {}
    if options["cron"]:
        body |= {"type": "SCHEDULED", "cronExpression": options["cron"]}
        if options["timezone"]:
            body["timezone"] = options["timezone"]
    if options["http_path"]:
        methods = [m.upper() for m in options["methods"]] or ["GET"]
        body |= {"type": "HTTP", "httpPath": options["http_path"], "httpMethods": methods}
    if options["events"]:
        body |= {"type": "EVENT", "eventTypes": list(options["events"])}
    if sum(bool(options[k]) for k in ("cron", "http_path", "events")) > 1:
        raise click.UsageError("choose one trigger: --cron, --http or --events")
    if options["limits"]:
        body["resourceLimits"] = dict(_limit(text) for text in options["limits"])
    if options["description"]:
        body["description"] = options["description"]
    return body


def _limit(text: str) -> tuple[str, int]:
    key, sep, value = text.partition("=")
    if not sep or not value.strip().isdigit():
        raise click.BadParameter(
            f"{text!r}: write NAME=INTEGER, e.g. maxExecutionTimeMs=2000", param_hint="--limit"
        )
    return key.strip(), int(value)


def _wait_settled(state: State, fn: Function, timeout: float = 300.0) -> Function:
    import time

    deadline = time.monotonic() + timeout
    while not fn.settled and time.monotonic() < deadline:
        time.sleep(0.1)
        fn = state.client.get_function(fn.id)
    return fn


def show_compile_error(message: str, source: str, file: Path) -> None:
    """The compile error, then the offending line of FILE with a caret under its column."""
    err.print(f"[red]compile error:[/red] {escape(message)}")
    for pattern in _POSITIONS:
        found = pattern.search(message)
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            lines = source.splitlines()
            if 1 <= line <= len(lines):
                text = lines[line - 1]
                gutter = f"{line} | "
                err.print(f"  --> {file}:{line}:{column}", markup=False)
                err.print(f"{gutter}{text}", markup=False)
                err.print(" " * (len(gutter) + max(column - 1, 0)) + "^", markup=False)
            return


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
        if source and fn.source:
            lexer = "typescript" if fn.language == "assemblyscript" else "javascript"
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
    state.emit(
        {"diff": text}, lambda: out.print(Syntax(text, "diff")) if text else click.echo("(no changes)")
    )


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
            fn = _wait_settled(state, fn)
    state.emit(
        fn, lambda: click.echo(f"{fn.name} is version {fn.version} (source of {version}): {fn.status}")
    )
    if fn.status == "FAILED":
        sys.exit(EXIT_FUNCTION_FAILED)


COMMANDS = [new, deploy, list_functions, show, rm, versions, diff, rollback]
