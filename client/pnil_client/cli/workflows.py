"""`pnil workflow`: run a canvas from a JSON file, show a run's tree, deploy a named workflow."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from pnil_client.cli.context import EXIT_FUNCTION_FAILED, State, err, out, pass_state
from pnil_client.workflows import WorkflowRun


def _read(path: str) -> dict[str, Any]:
    """A canvas file: a node, or {"steps": node, "onFailure"?: node, "input"?: {...}}."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}", param_hint="FILE") from exc
    if not isinstance(data, dict):
        raise click.BadParameter('the file holds a JSON object: a node or {"steps": node}', param_hint="FILE")
    return data if "steps" in data else {"steps": data}


def _input(text: str | None, default: Any) -> dict:
    if text is None:
        return default or {}
    try:
        value = json.loads(sys.stdin.read() if text == "-" else text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--input") from exc
    if not isinstance(value, dict):
        raise click.BadParameter("the input must be a JSON object", param_hint="--input")
    return value


@click.group()
def workflow() -> None:
    """Run canvases of functions (chain, group, chord) and manage named workflows."""


@workflow.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "-i", "input_text", default=None, help="JSON object input, or - to read stdin")
@click.option("--wait", is_flag=True, help="wait for the run to end and print its output")
@click.option("--timeout", default=600.0, show_default=True, help="seconds to wait with --wait")
@pass_state
def run(state: State, file: str, input_text: str | None, wait: bool, timeout: float) -> None:
    """Start a run of the canvas in FILE; with --wait, exit 1 unless it COMPLETED."""
    body = _read(file)
    handle = state.client.workflows.run(
        body["steps"], _input(input_text, body.get("input")), on_failure=body.get("onFailure")
    )
    if not wait:
        state.emit(handle.run, lambda: out.print(handle.id))
        return
    finished = handle.result(timeout)
    state.emit(finished, lambda: _print_run(finished))
    if finished.status != "COMPLETED":
        sys.exit(EXIT_FUNCTION_FAILED)


@workflow.command("show")
@click.argument("run_id")
@pass_state
def show(state: State, run_id: str) -> None:
    """A run's status, output or error, and its tree of steps."""
    found = state.client.workflows.get(run_id)
    state.emit(found, lambda: _print_run(found))


@workflow.command("cancel")
@click.argument("run_id")
@pass_state
def cancel(state: State, run_id: str) -> None:
    """Cancel a run (its steps not finished)."""
    found = state.client.workflows.cancel(run_id)
    state.emit(found, lambda: out.print(f"{found.id} {found.status}"))


@workflow.command("deploy")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--message", "-m", default=None, help="change description of the new version")
@pass_state
def deploy(state: State, name: str, file: str, message: str | None) -> None:
    """Create or change the named workflow NAME from FILE (a new canvas is a new version)."""
    body = _read(file)
    settings = {k: v for k, v in body.items() if k not in ("steps", "input")}
    if message:
        settings["changeDescription"] = message
    found = state.client.workflows.deploy(name, body["steps"], **settings)
    state.emit(found, lambda: out.print(f"{found.name} version {found.version}"))


def _print_run(found: WorkflowRun) -> None:
    for line in _tree_lines(found.tree or {}, 0):
        err.print(line, markup=False)
    if found.status == "COMPLETED":
        click.echo(json.dumps(found.output, indent=2, ensure_ascii=False))
    else:
        err.print(f"[red]{found.status}:[/red] {escape(found.error or '')}")
    err.print(f"workflow run {found.id}", style="dim")


def _tree_lines(node: dict, depth: int) -> list[str]:
    pad = "  " * depth
    if node.get("kind") == "function":
        took = f" {node['durationMs']:.1f} ms" if node.get("durationMs") is not None else ""
        return [f"{pad}{node.get('functionName') or node.get('functionId')}  {node['status']}{took}"]
    if node.get("kind") == "chord":
        return (
            [f"{pad}chord"]
            + _tree_lines(node["group"], depth + 1)
            + [f"{pad}then"]
            + _tree_lines(node["then"], depth + 1)
        )
    lines = [f"{pad}{node.get('kind', '?')}"]
    for child in node.get("steps", []):
        lines += _tree_lines(child, depth + 1)
    return lines


COMMANDS = [workflow]
