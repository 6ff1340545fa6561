"""Workflows from the SDK (builders, run handle, named workflows) and the `pnil workflow` commands."""

from __future__ import annotations

import json
import uuid

import pytest
from pnil_client import BadRequest, Client, chain, chord, group, step

from tests.client.test_cli import PNIL, pnil  # noqa: F401 - the fixture

INC = "function handle(input) { return {n: (input.n || 0) + 1}; }"
SUM = "function handle(input) { return {n: input.reduce((a, x) => a + x.n, 0)}; }"


@pytest.fixture(scope="module")
def sdk(server):
    with Client(server.url, server.key) as c:
        yield c


@pytest.fixture(scope="module")
def names(sdk):
    prefix = f"wfc-{uuid.uuid4().hex[:6]}"
    found = {}
    for key, source in (("inc", INC), ("sum", SUM)):
        sdk.create_function(f"{prefix}-{key}", "javascript", source)
        found[key] = f"{prefix}-{key}"
    for name in found.values():
        assert sdk.wait_ready(name).status == "READY"
    return found


def test_builders_make_the_canvas_json():
    assert chain("a", group("b", step("c", {"x": 1}))) == {
        "chain": [{"function": "a"}, {"group": [{"function": "b"}, {"function": "c", "input": {"x": 1}}]}]
    }
    assert chord(["a", "b"], "c") == {
        "chord": {"group": [{"function": "a"}, {"function": "b"}], "then": {"function": "c"}}
    }
    assert chord(group("a"), "c")["chord"]["group"] == [{"function": "a"}]


def test_sdk_runs_a_canvas_and_waits_for_its_result(sdk, names):
    handle = sdk.workflows.run(
        chain(names["inc"], chord([names["inc"], names["inc"]], names["sum"])), {"n": 1}
    )

    done = handle.result(timeout=60)

    assert done.status == "COMPLETED" and done.output == {"n": 6}
    assert done.tree["kind"] == "chain"
    assert handle.id in [r.id for r in sdk.workflows.list("COMPLETED")]
    with pytest.raises(BadRequest) as refused:
        sdk.workflows.run(chain("no-such-function"))
    assert refused.value.errors == {"pointer": "/steps/chain/0/function"}


def test_sdk_deploys_a_named_workflow_and_runs_it(sdk, names):
    name = f"wfc-{uuid.uuid4().hex[:6]}"
    assert sdk.workflows.deploy(name, step(names["inc"])).version == 1
    assert (
        sdk.workflows.deploy(name, chain(names["inc"], names["inc"]), changeDescription="twice").version == 2
    )

    done = sdk.workflows.start(name, {"n": 0}).result(timeout=60)

    assert (done.output, done.workflow_name, done.workflow_version) == ({"n": 2}, name, 2)
    assert [v["number"] for v in sdk.workflows.versions(name)] == [2, 1]


def test_cli_runs_shows_and_deploys(pnil, names, tmp_path):  # noqa: F811
    canvas = tmp_path / "flow.json"
    canvas.write_text(json.dumps({"chain": [{"function": names["inc"]}, {"function": names["inc"]}]}))

    waited = pnil("workflow", "run", str(canvas), "--input", '{"n": 5}', "--wait")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == {"n": 7}
    assert "COMPLETED" in waited.stderr  # the tree

    started = pnil("workflow", "run", str(canvas))
    run_id = started.stdout.strip()
    shown = pnil("--json", "workflow", "show", run_id)
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == run_id

    name = f"wfc-{uuid.uuid4().hex[:6]}"
    deployed = pnil("workflow", "deploy", name, str(canvas), "-m", "first")
    assert deployed.returncode == 0 and f"{name} version 1" in deployed.stdout

    failing = tmp_path / "bad.json"
    failing.write_text(json.dumps({"function": "no-such-function"}))
    refused = pnil("workflow", "run", str(failing))
    assert refused.returncode == 3 and "/steps/function" in refused.stderr
