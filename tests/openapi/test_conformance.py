"""The OpenAPI document is true to the server: schemathesis with every check, against real processes.

Run twice: with anonymous access off and a key, and with anonymous access on and no key. The seed
is fixed so that a run is repeatable; tests/openapi/schemathesis.toml lists the documented refusals.

Both runs test every operation. The run with a key runs every phase; the anonymous run leaves
out the coverage phase: its ~14,000 boundary cases (four fifths of a run's time) are the same
requests in both runs but for the caller's tenant, and what tells the two configurations apart
(anonymous access, the default tenant, no admin) is reached by the examples, fuzzing (valid and
invalid data) and stateful phases of every operation.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from bench.stack import Stack
from infra.secretbox import new_key
from store import tenants
from tests.conftest import throwaway_database

CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")


PHASES = {False: "examples,coverage,fuzzing,stateful", True: "examples,fuzzing,stateful"}


@pytest.mark.parametrize("anonymous", [False, True], ids=["with-a-key", "anonymous"])
def test_schemathesis_finds_nothing(server_url, template_url, anonymous, tmp_path):
    env = {
        "PNIL_ALLOW_ANONYMOUS": "1" if anonymous else "0",
        "PNIL_SECRET_KEY": new_key(),
        "PNIL_COMPILER_WARM_START": "0",  # the stack is ready without waiting for Node's asc
    }
    with throwaway_database(server_url) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            key = tenants.create_key(conn, "conformance", name="st", admin=True)[1]
        with Stack(("web", "compiler", "consumer"), database_url=url, extra_env=env) as stack:
            auth = [] if anonymous else ["-H", f"Authorization: Bearer {key}"]
            run = subprocess.run(
                [
                    str(ST),
                    "--config-file",
                    str(CONFIG),
                    "run",
                    f"{stack.base_url}/openapi.json",
                    "--phases",
                    PHASES[anonymous],
                    "--checks",
                    "all",
                    "--max-examples",
                    "15",
                    "--seed",
                    "20261124",
                    "--workers",
                    "1",
                    *auth,
                ],
                capture_output=True,
                text=True,
                timeout=240,
                cwd=tmp_path,  # its cache (.schemathesis/) stays out of the checkout
            )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
