"""The canvas: validating a submitted tree of nodes and indexing it by JSON pointer.

A node is `{"function": ref, "input"?, "retryPolicy"?}`, `{"chain": [node, ...]}`,
`{"group": [node, ...]}` or `{"chord": {"group": [node, ...], "then": node}}`. Every node is
addressed by its JSON pointer in the run's body (`/steps/chain/1`, `/onFailure`): the 400 of a
bad node names it, and a step execution's `stepPath` is the pointer of its function node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32
MAX_STEPS = 1000
ROOT = "/steps"
ON_FAILURE = "/onFailure"
KINDS = ("function", "chain", "group", "chord")
_FUNCTION_KEYS = {"function", "input", "retryPolicy"}


class CanvasError(ValueError):
    """A node is malformed; `pointer` is its JSON pointer in the request body."""

    def __init__(self, pointer: str, message: str) -> None:
        super().__init__(f"{pointer}: {message}")
        self.pointer = pointer
        self.message = message


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a run's tree. A chord's group is a node of its own (`<chord>/chord/group`)."""

    path: str
    kind: str
    parent: str | None = None
    children: tuple[str, ...] = ()
    function: str | None = None  # the function's id once resolved (as given before)
    fixed_input: Any = None
    has_input: bool = False
    retry_policy: dict | None = None


def function_refs(node: Any, pointer: str = ROOT) -> list[tuple[str, str]]:
    """Validate the shape of a canvas; returns (pointer, function reference) of every step.

    Raises CanvasError for the first offending node (depth > 32, > 1,000 steps, an unknown or
    malformed node).
    """
    refs: list[tuple[str, str]] = []
    _walk(node, pointer, 1, refs)
    return refs


def _walk(node: Any, pointer: str, depth: int, refs: list) -> None:
    if depth > MAX_DEPTH:
        raise CanvasError(pointer, f"nodes nest at most {MAX_DEPTH} deep")
    if not isinstance(node, dict) or len(set(node) & set(KINDS)) != 1:
        raise CanvasError(
            pointer,
            'a node is one of {"function": "name-or-id"}, {"chain": [...]}, {"group": [...]}, '
            '{"chord": {"group": [...], "then": node}}',
        )
    kind = next(k for k in KINDS if k in node)
    if kind == "function":
        _function(node, pointer, refs)
        return
    if set(node) != {kind}:
        extra = sorted(set(node) - {kind})
        raise CanvasError(pointer, f"a {kind} node has no other keys (found {', '.join(extra)})")
    body = node[kind]
    if kind == "chord":
        if not isinstance(body, dict) or set(body) != {"group", "then"}:
            raise CanvasError(f"{pointer}/chord", 'a chord is {"group": [node, ...], "then": node}')
        _members(body["group"], f"{pointer}/chord/group", depth + 1, refs)
        _walk(body["then"], f"{pointer}/chord/then", depth + 1, refs)
        return
    _members(body, f"{pointer}/{kind}", depth, refs)


def _members(body: Any, pointer: str, depth: int, refs: list) -> None:
    if not isinstance(body, list) or not body:
        raise CanvasError(pointer, "must be a non-empty array of nodes")
    for i, member in enumerate(body):
        _walk(member, f"{pointer}/{i}", depth + 1, refs)


def _function(node: dict, pointer: str, refs: list) -> None:
    extra = sorted(set(node) - _FUNCTION_KEYS)
    if extra:
        raise CanvasError(
            pointer, f"unknown key(s) {', '.join(extra)}; a step has function, input, retryPolicy"
        )
    ref = node["function"]
    if not isinstance(ref, str) or not ref.strip() or len(ref) > 200 or "\x00" in ref:
        raise CanvasError(f"{pointer}/function", "must be a function's name or id (at most 200 characters)")
    if "input" in node and not isinstance(node["input"], dict):
        raise CanvasError(f"{pointer}/input", "a step's fixed input must be a JSON object")
    if "retryPolicy" in node and not isinstance(node["retryPolicy"], dict):
        raise CanvasError(f"{pointer}/retryPolicy", "must be an object")
    refs.append((pointer, ref))
    if len(refs) > MAX_STEPS:
        raise CanvasError(pointer, f"a run has at most {MAX_STEPS} steps")


def resolve(node: Any, ids: dict[str, str]) -> Any:
    """The same canvas with every function reference replaced by the id `ids` maps it to."""
    if "function" in node:
        return {**node, "function": ids[node["function"]]}
    if "chord" in node:
        chord = node["chord"]
        return {
            "chord": {"group": [resolve(m, ids) for m in chord["group"]], "then": resolve(chord["then"], ids)}
        }
    kind = "chain" if "chain" in node else "group"
    return {kind: [resolve(m, ids) for m in node[kind]]}


def index(
    node: Any, pointer: str = ROOT, parent: str | None = None, out: dict | None = None
) -> dict[str, Node]:
    """Every node of a (validated) canvas by its pointer."""
    out = {} if out is None else out
    if "function" in node:
        out[pointer] = Node(
            path=pointer,
            kind="function",
            parent=parent,
            function=node["function"],
            fixed_input=node.get("input"),
            has_input="input" in node,
            retry_policy=node.get("retryPolicy"),
        )
        return out
    if "chord" in node:
        group, then = f"{pointer}/chord/group", f"{pointer}/chord/then"
        out[pointer] = Node(path=pointer, kind="chord", parent=parent, children=(group, then))
        members = node["chord"]["group"]
        out[group] = Node(
            path=group,
            kind="group",
            parent=pointer,
            children=tuple(f"{group}/{i}" for i in range(len(members))),
        )
        for i, member in enumerate(members):
            index(member, f"{group}/{i}", group, out)
        index(node["chord"]["then"], then, pointer, out)
        return out
    kind = "chain" if "chain" in node else "group"
    members = node[kind]
    children = tuple(f"{pointer}/{kind}/{i}" for i in range(len(members)))
    out[pointer] = Node(path=pointer, kind=kind, parent=parent, children=children)
    for child, member in zip(children, members, strict=True):
        index(member, child, pointer, out)
    return out


def starts(
    tree: dict[str, Node], path: str, input_value: Any
) -> tuple[list[tuple[Node, Any]], dict[str, int]]:
    """What starting the node at `path` with `input_value` queues: (function node, input) pairs,
    and the join counters of the groups it opens."""
    steps: list[tuple[Node, Any]] = []
    joins: dict[str, int] = {}
    pending = [(path, input_value)]
    while pending:
        at, value = pending.pop()
        node = tree[at]
        if node.kind == "function":
            steps.append((node, node.fixed_input if node.has_input else value))
        elif node.kind == "group":
            joins[at] = len(node.children)
            pending.extend((child, value) for child in reversed(node.children))
        else:  # chain and chord start with their first child
            pending.append((node.children[0], value))
    return steps, joins


def output_of(tree: dict[str, Node], path: str, outputs: dict[str, Any]) -> Any:
    """A finished node's output from its steps' outputs: a chain's is its last node's, a group's
    the list of its members' in order, a chord's its `then`'s."""
    node = tree[path]
    if node.kind == "function":
        return outputs.get(path)
    if node.kind == "group":
        return [output_of(tree, child, outputs) for child in node.children]
    return output_of(tree, node.children[-1], outputs)
