"""Safe deploys: a staged version serves only once READY; POST /compile checks without storing."""

from __future__ import annotations

from tests.integration.api_fixtures import api
from tests.integration.conftest import wait_for
from tests.integration.execute_helpers import execute, expect_error, ready_function
from tests.integration.pipeline_helpers import TYPE_ERROR

V1 = "function handle(input) { return {v: 1}; }"
V2 = "function handle(input) { return {v: 2}; }"
BROKEN = "function handle(input) { return {v: 3 ; }"

__all__ = ["api"]  # fixture used below


def pending_settled(client, fid: str) -> dict:
    """The function once its staged version is promoted or FAILED."""

    def done():
        fn = client.get(f"/functions/{fid}").get_json()
        pending = fn["pendingVersion"]
        return fn if pending is None or pending["status"] == "FAILED" else None

    return wait_for(done, timeout=60, interval=0.1)


def test_a_staged_version_that_fails_leaves_the_live_one_serving(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)

    staged = client.post(f"/functions/{fid}/versions", json={"source": BROKEN, "changeDescription": "oops"})

    assert staged.status_code == 200, staged.get_json()
    assert staged.get_json()["version"] == 1 and staged.get_json()["pendingVersion"]["version"] == 2
    fn = pending_settled(client, fid)
    assert (fn["status"], fn["version"], fn["source"]) == ("READY", 1, V1)
    assert fn["pendingVersion"]["status"] == "FAILED" and fn["pendingVersion"]["compileError"]
    assert fn["pendingVersion"]["changeDescription"] == "oops"
    ran = execute(client, fid)
    assert (ran["output"], ran["functionVersion"]) == ({"v": 1}, 1)
    versions = client.get(f"/functions/{fid}/versions").get_json()
    assert [(v["number"], v["status"]) for v in versions] == [(2, "FAILED"), (1, "READY")]

    again = client.post(f"/functions/{fid}/versions", json={"source": BROKEN})  # same file again

    assert again.get_json()["pendingVersion"]["version"] == 2  # nothing new staged
    assert execute(client, fid)["output"] == {"v": 1}


def test_a_staged_version_that_compiles_is_promoted(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    client.post(f"/functions/{fid}/versions", json={"source": BROKEN})
    pending_settled(client, fid)

    client.post(f"/functions/{fid}/versions", json={"language": "javascript", "source": V2})
    fn = pending_settled(client, fid)

    assert (fn["status"], fn["version"], fn["source"], fn["pendingVersion"]) == ("READY", 3, V2, None)
    ran = execute(client, fid)
    assert (ran["output"], ran["functionVersion"]) == ({"v": 2}, 3)


def test_staging_what_already_serves_drops_the_pending_version(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    client.post(f"/functions/{fid}/versions", json={"source": BROKEN})
    pending_settled(client, fid)

    back = client.post(f"/functions/{fid}/versions", json={"source": V1}).get_json()

    assert (back["version"], back["pendingVersion"]) == (1, None)


def test_a_reused_artifact_promotes_at_once(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    client.post(f"/functions/{fid}/versions", json={"source": V2})
    pending_settled(client, fid)

    rolled = client.post(f"/functions/{fid}/versions", json={"source": V1}).get_json()

    assert (rolled["status"], rolled["version"], rolled["pendingVersion"]) == ("READY", 3, None)


def test_a_plain_put_keeps_the_contract_and_replaces_a_staged_version(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    client.post(f"/functions/{fid}/versions", json={"source": BROKEN})
    pending_settled(client, fid)

    put = client.put(f"/functions/{fid}", json={"source": V2 + "\n// never compiled before"}).get_json()

    assert (put["status"], put["version"], put["pendingVersion"]) == ("PENDING", 3, None)


def test_staging_on_a_function_that_never_compiled_replaces_it(api):
    client = api.test_client()
    created = client.post(
        "/functions", json={"name": "never-ready", "language": "javascript", "source": BROKEN}
    )
    fid = created.get_json()["id"]
    wait_for(lambda: client.get(f"/functions/{fid}").get_json()["status"] == "FAILED", timeout=60)

    fixed = client.post(f"/functions/{fid}/versions", json={"source": V2}).get_json()

    assert (fixed["version"], fixed["pendingVersion"]) == (2, None)
    assert pending_settled(client, fid)["status"] in ("PENDING", "COMPILING", "READY")


def test_staging_answers_json_errors(api):
    client = api.test_client()
    fid = ready_function(client, "javascript", V1)
    expect_error(client.post(f"/functions/{fid}/versions", json={}), 400)
    expect_error(client.post(f"/functions/{fid}/versions", json={"source": V2, "language": "cobol"}), 400)
    expect_error(client.post(f"/functions/{fid}/versions", json={"source": V2, "bogus": 1}), 400)
    expect_error(
        client.post("/functions/00000000-0000-0000-0000-000000000000/versions", json={"source": V2}), 404
    )


def test_compile_checks_without_storing(api):
    client = api.test_client()
    before = client.get("/functions").get_json()

    ok = client.post("/compile", json={"language": "javascript", "source": V1})
    bad_js = client.post("/compile", json={"language": "javascript", "source": BROKEN})
    bad_as = client.post("/compile", json={"language": "assemblyscript", "source": TYPE_ERROR})
    bad_py = client.post("/compile", json={"language": "python", "source": "def handle(input:\n"})

    assert ok.status_code == 200 and ok.get_json() == {"status": "READY", "compileError": None}
    for resp in (bad_js, bad_as, bad_py):
        assert resp.status_code == 200 and resp.get_json()["status"] == "FAILED"
    assert "2:" in bad_as.get_json()["compileError"] or "line 2" in bad_as.get_json()["compileError"]
    assert client.get("/functions").get_json() == before
    expect_error(client.post("/compile", json={"language": "cobol", "source": "x"}), 400)
    expect_error(client.post("/compile", json={"language": "javascript"}), 400)


def test_a_missing_python_package_says_what_to_do(api):
    client = api.test_client()

    numpy = client.post("/compile", json={"language": "python", "source": "import numpy\n" + PY_HANDLE})
    requests = client.post(
        "/compile",
        json={"language": "python", "source": "def handle(input, context=None):\n    import requests\n"},
    )
    fid = ready_function(client, "python", "def handle(input, context=None):\n    import requests\n")
    ran = execute(client, fid)

    assert "numpy is not available" in numpy.get_json()["compileError"]
    assert "standard library" in numpy.get_json()["compileError"]
    assert requests.get_json()["status"] == "READY"
    assert ran["status"] == "FAILED" and "pnil.fetch" in ran["errorMessage"]


PY_HANDLE = "def handle(input, context=None):\n    return input\n"
