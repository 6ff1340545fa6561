"""`pnil deploy FILE` (the safe path by default) and `pnil check FILE`, and the deploy of one
function that the manifest deploy shares."""

from __future__ import annotations

import base64
import re
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from pnil_client.cli.context import EXIT_FUNCTION_FAILED, State, err, pass_state
from pnil_client.errors import NotFound
from pnil_client.models import Function

LANGUAGES = {
    ".ts": "assemblyscript",
    ".js": "javascript",
    ".mjs": "javascript",
    ".py": "python",
    ".wasm": "wasm",
}
LANGUAGE_NAMES = ("assemblyscript", "javascript", "python", "wasm")
# "input.ts(2,16)" from asc, "line 3, column 14" from the JavaScript and Python checks.
_POSITIONS = (re.compile(r"input\.ts\((\d+),(\d+)\)"), re.compile(r"line (\d+), column (\d+)"))


def read_source(file: Path, language: str | None = None) -> tuple[str, str]:
    """(language, source) of a function file: the language from --language or the extension."""
    language = language or LANGUAGES.get(file.suffix.lower())
    if language is None:
        raise click.BadParameter(f"use a .ts, .js, .py or .wasm file, not {file.suffix or 'no extension'}")
    raw = file.read_bytes()
    return language, base64.b64encode(raw).decode() if language == "wasm" else raw.decode("utf-8")


def deploy_one(
    state: State,
    name: str,
    language: str,
    source: str,
    fields: dict[str, Any],
    *,
    message: str | None = None,
    replace: bool = False,
    language_given: bool = False,
    existing: Function | None = None,
) -> tuple[Function, str]:
    """Create the function, or change its settings and stage its source (plain PUT with
    `replace`). Returns (the function as the server answered, what was done)."""
    client = state.client
    if existing is None:
        try:
            existing = client.get_function(name)
        except NotFound:
            return client.create_function(name, language, source, **fields), "created"
    if existing.language != language and not language_given:
        _confirm_language_switch(name, existing.language, language)
    changed = {k: v for k, v in fields.items() if existing.raw.get(k) != v}
    fn = existing
    if replace:
        body = changed | {"language": language, "source": source}
        if message:
            body["changeDescription"] = message
        return client.update_function(existing.id, **body), "updated"
    if changed:
        fn = client.update_function(existing.id, **changed)
    if (fn.language, fn.source) != (language, source) or fn.pending_version:
        fn = client.stage_version(existing.id, source, language, message)
    return fn, "updated"


def _confirm_language_switch(name: str, was: str, now: str) -> None:
    question = f"{name} is a {was} function; deploy this {now} source over it?"
    if sys.stdin.isatty() and sys.stderr.isatty():
        click.confirm(question, abort=True, err=True)
        return
    raise click.UsageError(f"{name} is a {was} function; to replace it with {now} pass --language {now}")


def wait_settled(state: State, fn: Function, timeout: float = 300.0) -> Function:
    """Poll until the function and its staged version, if any, are compiled or failed."""
    deadline = time.monotonic() + timeout
    while not fn.settled and time.monotonic() < deadline:
        time.sleep(0.1)
        fn = state.client.get_function(fn.id)
    return fn


def failure_of(fn: Function) -> str | None:
    """The compile error of what was just deployed (the staged version's, else the function's)."""
    pending = fn.pending_version
    if pending and pending.get("status") == "FAILED":
        return pending.get("compileError") or "compile failed"
    return fn.compile_error if fn.status == "FAILED" else None


def http_url(state: State, fn: Function) -> str | None:
    """The public URL of an HTTP function."""
    if fn.type != "HTTP" or not fn.http_path:
        return None
    tenant = state.client.whoami()["tenant"]
    return f"{state.client.url.rstrip('/')}/http/{tenant}{fn.http_path}"


def report(state: State, fn: Function, verb: str, text: str, file: Path) -> None:
    """Say what a deploy did; exit 1 when its source did not compile."""
    problem = failure_of(fn)
    url = http_url(state, fn) if fn.status == "READY" else None
    data = fn.raw | ({"url": url} if url else {})

    def human() -> None:
        if problem and fn.pending_version:
            err.print(
                f"{escape(fn.name)}: version {fn.pending_version['version']} FAILED to compile; "
                f"version {fn.version} is still serving"
            )
        else:
            err.print(f"{verb} {escape(fn.name)} version {fn.version}: {fn.status}")
        if url:
            click.echo(f"{fn.name}: {url}")

    state.emit(data, human)
    if problem:
        if not state.as_json:
            show_compile_error(problem, text, file)
        sys.exit(EXIT_FUNCTION_FAILED)


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


def settings_from_flags(options: dict[str, Any]) -> dict[str, Any]:
    """The API fields the deploy flags ask for (only those given)."""
    body: dict[str, Any] = {}
    triggers = sum(bool(options[k]) for k in ("cron", "http_path", "events"))
    if triggers > 1:
        raise click.UsageError("choose one trigger: --cron, --http or --events")
    if options["type"]:
        body["type"] = options["type"]
    if options["cron"]:
        body |= {"type": "SCHEDULED", "cronExpression": options["cron"]}
    if options["http_path"]:
        methods = [m.upper() for m in options["methods"]] or ["GET"]
        body |= {"type": "HTTP", "httpPath": options["http_path"], "httpMethods": methods}
    if options["events"]:
        body |= {"type": "EVENT", "eventTypes": list(options["events"])}
    simple = {
        "timezone": "timezone",
        "misfire_grace_s": "misfireGraceS",
        "http_auth": "httpAuth",
        "description": "description",
        "initial_state": "state",
    }
    body |= {field: options[opt] for opt, field in simple.items() if options[opt] is not None}
    if options["limits"]:
        body["resourceLimits"] = dict(_pair(t, "--limit", integer=True) for t in options["limits"])
    if options["allowed_hosts"]:
        body["allowedHosts"] = [h for text in options["allowed_hosts"] for h in text.split(",") if h]
    if options["tags"]:
        body["tags"] = list(options["tags"])
    if options["meta"]:
        body["metadata"] = dict(_pair(t, "--meta") for t in options["meta"])
    return body


def _pair(text: str, flag: str, *, integer: bool = False) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or (integer and not value.strip().isdigit()):
        example = "maxExecutionTimeMs=2000" if integer else "team=payments"
        raise click.BadParameter(
            f"{text!r}: write NAME={'INTEGER' if integer else 'VALUE'}, e.g. {example}", param_hint=flag
        )
    return key.strip(), int(value) if integer else value


@click.command()
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="the function's name (default: the file name without extension)")
@click.option("--language", type=click.Choice(LANGUAGE_NAMES), help="default: from the file's extension")
@click.option("--type", type=click.Choice(("ONEOFF", "EMBEDDED", "SCHEDULED", "HTTP", "EVENT")))
@click.option("--cron", help='run on a schedule, e.g. "*/5 * * * *"')
@click.option("--timezone", help="the schedule's IANA timezone (default UTC)")
@click.option("--misfire-grace-s", type=int, help="a tick missed by at most this many seconds still fires")
@click.option("--http", "http_path", help="serve it at /http/{tenant}/PATH")
@click.option("--methods", multiple=True, help="HTTP methods for --http (repeat; default GET)")
@click.option("--http-auth", type=click.Choice(("none", "key")), help="key: callers need an API key")
@click.option("--events", multiple=True, help="event type patterns to subscribe to (repeat)")
@click.option("--limit", "limits", multiple=True, help="a resource limit, e.g. maxExecutionTimeMs=2000")
@click.option("--allowed-hosts", multiple=True, help="hosts pnil.fetch may reach (repeat or comma-separate)")
@click.option("--tag", "tags", multiple=True, help="a tag (repeat)")
@click.option("--meta", multiple=True, help="metadata KEY=VALUE (repeat)")
@click.option(
    "--state", "initial_state", type=click.Choice(("DRAFT", "ACTIVE")), help="initial state of a new function"
)
@click.option("--description", help="what the function does")
@click.option("-m", "--message", help="the change description of this version")
@click.option("--replace", is_flag=True, help="plain PUT: the new version serves (or fails) at once")
@click.option("--prune", is_flag=True, help="with pnil.toml: delete functions it no longer names")
@click.option("--dry-run", is_flag=True, help="with pnil.toml: print the plan, change nothing")
@click.option("--no-wait", is_flag=True, help="return at once instead of waiting for the compile")
@pass_state
def deploy(state: State, file: Path | None, name: str | None, **options: Any) -> None:
    """Deploy FILE (.ts, .js, .py or .wasm) as a function, or without FILE every function of
    ./pnil.toml. A new source serves only once it compiled: until then, and if it fails, the
    version that serves keeps serving."""
    if file is None or file.name == "pnil.toml":
        from pnil_client.cli import project  # the manifest deploy builds on deploy_one below

        manifest_path = file or Path("pnil.toml")
        if not project.deploy_manifest(
            state, manifest_path, prune=options["prune"], dry_run=options["dry_run"]
        ):
            sys.exit(EXIT_FUNCTION_FAILED)
        return
    language, source = read_source(file, options["language"])
    fn, verb = deploy_one(
        state,
        name or file.stem,
        language,
        source,
        settings_from_flags(options),
        message=options["message"],
        replace=options["replace"],
        language_given=bool(options["language"]),
    )
    if not options["no_wait"] and not fn.settled:
        with err.status(f"compiling {fn.name}…"):
            fn = wait_settled(state, fn)
    report(state, fn, verb, file.read_bytes().decode("utf-8", "replace"), file)


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--language", type=click.Choice(LANGUAGE_NAMES), help="default: from the file's extension")
@pass_state
def check(state: State, file: Path, language: str | None) -> None:
    """Compile FILE on the server without deploying it; exit 1 with the error when it does not compile."""
    language, source = read_source(file, language)
    problem = state.client.compile_check(language, source)
    state.emit(
        {"file": str(file), "language": language, "status": "FAILED" if problem else "READY"}
        | {"compileError": problem},
        lambda: None if problem else err.print(f"{file}: compiles ({language})"),
    )
    if problem:
        if not state.as_json:
            show_compile_error(problem, file.read_bytes().decode("utf-8", "replace"), file)
        sys.exit(EXIT_FUNCTION_FAILED)


COMMANDS = [deploy, check]
