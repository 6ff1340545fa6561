"""The canvas: validation with JSON pointers, the index, what starting a node queues, outputs."""

from __future__ import annotations

import pytest

from workflows import canvas
from workflows.canvas import CanvasError


def fn(name: str, **extra) -> dict:
    return {"function": name, **extra}


def test_function_refs_lists_every_step_with_its_pointer():
    steps = {"chain": [fn("a"), {"chord": {"group": [fn("b"), fn("c")], "then": fn("d")}}]}

    assert canvas.function_refs(steps) == [
        ("/steps/chain/0", "a"),
        ("/steps/chain/1/chord/group/0", "b"),
        ("/steps/chain/1/chord/group/1", "c"),
        ("/steps/chain/1/chord/then", "d"),
    ]


@pytest.mark.parametrize(
    ("steps", "pointer"),
    [
        ([], "/steps"),
        ({"chain": [fn("a")], "group": [fn("b")]}, "/steps"),
        ({"group": {}}, "/steps/group"),
        ({"chord": {"group": [fn("a")], "then": fn("b"), "x": 1}}, "/steps/chord"),
        ({"chain": [fn("a", input="x")]}, "/steps/chain/0/input"),
        ({"chain": [fn("a", retryPolicy=[])]}, "/steps/chain/0/retryPolicy"),
        ({"chain": [fn("")]}, "/steps/chain/0/function"),
        ({"chain": [fn("a\x00")]}, "/steps/chain/0/function"),
    ],
)
def test_malformed_nodes_name_their_pointer(steps, pointer):
    with pytest.raises(CanvasError) as refused:
        canvas.function_refs(steps)

    assert refused.value.pointer == pointer


def test_depth_and_step_limits():
    ok = fn("a")
    for _ in range(canvas.MAX_DEPTH - 1):
        ok = {"chain": [ok]}
    assert len(canvas.function_refs(ok)) == 1
    with pytest.raises(CanvasError, match="deep"):
        canvas.function_refs({"chain": [ok]})
    with pytest.raises(CanvasError, match="at most 1000 steps") as refused:
        canvas.function_refs({"group": [fn("a")] * (canvas.MAX_STEPS + 1)})
    assert refused.value.pointer == "/steps/group/1000"


def test_starting_a_node_queues_its_first_steps_and_opens_its_joins():
    tree = canvas.index(
        {"chain": [{"group": [{"chain": [fn("a"), fn("b")]}, fn("c", input={"fixed": 1})]}, fn("d")]}
    )

    steps, joins = canvas.starts(tree, "/steps", {"n": 1})

    assert [(node.path, value) for node, value in steps] == [
        ("/steps/chain/0/group/0/chain/0", {"n": 1}),
        ("/steps/chain/0/group/1", {"fixed": 1}),
    ]
    assert joins == {"/steps/chain/0": 2}  # keyed by the group node's pointer


def test_outputs_of_chains_groups_and_chords():
    tree = canvas.index(
        {"group": [{"chain": [fn("a"), fn("b")]}, {"chord": {"group": [fn("c")], "then": fn("d")}}]}
    )
    outputs = {
        "/steps/group/0/chain/0": 1,
        "/steps/group/0/chain/1": 2,
        "/steps/group/1/chord/group/0": 3,
        "/steps/group/1/chord/then": 4,
    }

    assert canvas.output_of(tree, "/steps", outputs) == [2, 4]
    assert canvas.output_of(tree, "/steps/group/1/chord/group", outputs) == [3]


def test_resolve_replaces_references_by_ids():
    steps = {"chord": {"group": [fn("a", input={"x": 1})], "then": fn("b")}}

    assert canvas.resolve(steps, {"a": "id-a", "b": "id-b"}) == {
        "chord": {"group": [{"function": "id-a", "input": {"x": 1}}], "then": {"function": "id-b"}}
    }
