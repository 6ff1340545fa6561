"""The project commands: `pnil deploy` of ./pnil.toml, `pnil export DIR`, `pnil dev`."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from pnil_client import manifest
from pnil_client.cli.context import State, err, out, pass_state
from pnil_client.cli.deploy import deploy_one, failure_of, http_url, wait_settled
from pnil_client.errors import PnilError
from pnil_client.models import Function


@dataclass
class Step:
    """One line of the plan: what happens to one function and why."""

    action: str  # create, update, unchanged, delete
    name: str
    changes: list[str] = field(default_factory=list)
    declared: manifest.Declared | None = None
    server: Function | None = None

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "name": self.name, "changes": self.changes}


def all_functions(state: State) -> list[Function]:
    """Every function of the tenant (every page)."""
    found: list[Function] = []
    while True:
        page = state.client.list_functions(limit=1000, offset=len(found))
        found += page
        if len(page) < 1000:
            return found


def plan(declared: list[manifest.Declared], server: list[Function], *, prune: bool) -> list[Step]:
    """Create what is missing, update what differs (source by content digest, then fields),
    leave the rest; with `prune`, delete the server's functions the manifest does not name."""
    by_name = {f.name: f for f in server}
    steps = []
    for want in declared:
        have = by_name.get(want.name)
        if have is None:
            steps.append(Step("create", want.name, ["new"], want))
            continue
        changes = manifest.changed_fields(want, have.raw)
        pending = have.pending_version
        if manifest.content_digest(have.language, have.source or "") != want.digest:
            # A staged version of the same source that failed is still a change to make again.
            changes.insert(0, "source" if want.language == have.language else "language")
        elif pending:
            changes.insert(0, f"staged version {pending['version']} dropped")
        steps.append(Step("update" if changes else "unchanged", want.name, changes, want, have))
    named = {d.name for d in declared}
    if prune:
        steps += [Step("delete", f.name, [], None, f) for f in server if f.name not in named]
    return steps


def _print_plan(steps: list[Step]) -> None:
    marks = {"create": "+", "update": "~", "delete": "-", "unchanged": "="}
    for step in steps:
        detail = f" ({', '.join(step.changes)})" if step.changes and step.action == "update" else ""
        out.print(f"{marks[step.action]} {step.action} {step.name}{detail}", markup=False)


def deploy_manifest(state: State, path: Path, *, prune: bool, dry_run: bool, quiet: bool = False) -> bool:
    """Make the server match the manifest; True when every function compiled."""
    try:
        declared = manifest.load(path)
    except manifest.ManifestError as exc:
        raise click.UsageError(str(exc)) from exc
    steps = plan(declared, all_functions(state), prune=prune)
    if dry_run:
        state.emit([s.to_json() for s in steps], lambda: _print_plan(steps))
        return True
    results = [_apply(state, path, step) for step in steps]
    ok = all(r["ok"] for r in results)
    if not quiet or not ok:
        state.emit(results, lambda: _print_results(results))
    return ok


def _apply(state: State, path: Path, step: Step) -> dict[str, Any]:
    result = step.to_json() | {"ok": True}
    if step.action == "delete":
        state.client.delete_function(step.server.id)
        return result
    if step.action == "unchanged":
        return result | {"version": step.server.version}
    want = step.declared
    try:
        fn, _ = deploy_one(
            state,
            want.name,
            want.language,
            want.source,
            want.fields,
            language_given=True,  # the manifest says which language it is
            existing=step.server,
        )
        fn = wait_settled(state, fn)
    except PnilError as exc:
        return result | {"ok": False, "error": f"{path}:{want.line}: {want.name}: {exc.message}"}
    problem = failure_of(fn)
    url = http_url(state, fn) if fn.status == "READY" else None
    return result | {
        "ok": problem is None,
        "version": fn.version,
        "status": fn.status,
        **({"compileError": f"{want.file.name}: {problem}"} if problem else {}),
        **({"url": url} if url else {}),
    }


def _print_results(results: list[dict[str, Any]]) -> None:
    for r in results:
        if r.get("error"):
            err.print(f"[red]error:[/red] {escape(r['error'])}")
        elif r.get("compileError"):
            err.print(
                f"[red]{r['name']}: compile error, the serving version stays:[/red] "
                + escape(r["compileError"])
            )
        elif r["action"] != "unchanged":
            err.print(f"{r['action']}d {r['name']}" + (f" version {r['version']}" if "version" in r else ""))
        if r.get("url"):
            click.echo(f"{r['name']}: {r['url']}")


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="overwrite files that exist")
@pass_state
def export(state: State, directory: Path, force: bool) -> None:
    """Write every function's source and a pnil.toml into DIRECTORY: `pnil deploy` there (on any
    server) reproduces them."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / manifest.FILENAME
    if target.exists() and not force:
        raise click.ClickException(f"{target} exists; pass --force to overwrite it")
    entries, used = [], set()
    for listed in sorted(all_functions(state), key=lambda f: f.name):
        fn = state.client.get_function(listed.id)
        name = manifest.file_name(fn.name, fn.language)
        while name in used:
            name = "_" + name
        used.add(name)
        data = base64.b64decode(fn.source) if fn.language == "wasm" else (fn.source or "").encode()
        (directory / name).write_bytes(data)
        entries.append((fn.name, name, manifest.exported_fields(fn.raw)))
    target.write_text(manifest.dumps(entries), encoding="utf-8")
    state.emit(
        {"directory": str(directory), "functions": [e[0] for e in entries]},
        lambda: err.print(f"wrote {len(entries)} functions and {target}"),
    )


def _snapshot(root: Path) -> dict[Path, float]:
    """Modification times of the manifest and every file it could name."""
    return {
        p: p.stat().st_mtime
        for p in root.rglob("*")
        if p.is_file() and (p.name == manifest.FILENAME or p.suffix in manifest.EXTENSIONS)
    }


@click.command()
@click.option("--interval", default=0.5, show_default=True, help="seconds between looks at the files")
@click.option("--once", is_flag=True, help="deploy once and stop (for scripts)")
@pass_state
def dev(state: State, interval: float, once: bool) -> None:
    """Deploy ./pnil.toml, then redeploy on every save (safe path: a version that does not compile
    never replaces the serving one) and print the logs of its functions' executions."""
    path = Path(manifest.FILENAME)
    seen_files = _snapshot(Path("."))
    deploy_manifest(state, path, prune=False, dry_run=False)
    seen_runs = _finished_ids(state, path)
    while not once:
        time.sleep(interval)
        now = _snapshot(Path("."))
        if now != seen_files:
            seen_files = now
            try:
                deploy_manifest(state, path, prune=False, dry_run=False)
            except click.UsageError as exc:
                err.print(f"[red]error:[/red] {escape(exc.message)}")
        seen_runs = _tail(state, path, seen_runs)


def _names(path: Path) -> list[str]:
    try:
        return [d.name for d in manifest.load(path)]
    except manifest.ManifestError:
        return []


def _finished_ids(state: State, path: Path) -> set[str]:
    ids: set[str] = set()
    for name in _names(path):
        try:
            ids |= {e.id for e in state.client.executions(name, limit=100) if e.finished}
        except PnilError:
            continue
    return ids


def _tail(state: State, path: Path, seen: set[str]) -> set[str]:
    from pnil_client.cli.runs import print_logs

    for name in _names(path):
        try:
            fresh = [e for e in state.client.executions(name, limit=100) if e.finished and e.id not in seen]
        except PnilError:
            continue
        for execution in reversed(fresh):
            seen.add(execution.id)
            out.print(f"[bold]{escape(name)}[/bold]", end=" ")
            print_logs(state, execution)
    return seen


COMMANDS = [export, dev]
