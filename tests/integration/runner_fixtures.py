"""Fixtures for the runner tests: real asc-compiled modules and a real subprocess pool.

Loaded with ``pytest_plugins`` from the runner test modules (pytest only auto-loads
files named conftest.py, which belong to the lead).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from runner.contract import Language, Limits, RunRequest
from runner.sandbox.pool import RunnerPool

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "tests" / "fixtures" / "assemblyscript"
ASC_FLAGS = ["--exportRuntime", "--runtime", "incremental", "--optimize"]

# One node process compiles every fixture through asc's programmatic API: a fresh asc
# CLI per file would cost about two seconds each.
_COMPILE_ALL = """
import asc from "assemblyscript/asc";
const [jobs, flags] = JSON.parse(process.argv[1]);
for (const [src, out] of jobs) {
  const { error, stderr } = await asc.main([src, "-o", out, ...flags]);
  if (error) { process.stderr.write(stderr.toString()); process.exit(1); }
}
"""


_COMPILED: dict[str, bytes] = {}


def _asc_version() -> str:
    package = ROOT / "node_modules" / "assemblyscript" / "package.json"
    return json.loads(package.read_text())["version"]


@pytest.fixture(scope="session")
def as_modules(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Every tests/fixtures/assemblyscript/*.ts compiled by the real asc, by file stem.

    Outputs are cached in pytest's cache directory under the hash of the source, the asc
    version and the flags, so only changed fixtures are recompiled. Each test module that
    imports this fixture gets its own session fixture, so the result is memoised here too.
    """
    if _COMPILED:
        return dict(_COMPILED)
    if getattr(request.config, "cache", None) is not None:
        cache = Path(request.config.cache.mkdir("assemblyscript-fixtures"))
    else:  # -p no:cacheprovider: compile into this session's temporary directory
        cache = tmp_path_factory.mktemp("assemblyscript-fixtures")
    version = _asc_version()
    outputs: dict[str, Path] = {}
    jobs: list[list[str]] = []
    for source in sorted(SOURCES.glob("*.ts")):
        digest = hashlib.sha256(
            source.read_bytes() + version.encode() + " ".join(ASC_FLAGS).encode()
        ).hexdigest()[:20]
        out = cache / f"{source.stem}-{digest}.wasm"
        outputs[source.stem] = out
        if not out.exists():
            jobs.append([str(source), str(out)])
    if jobs:
        proc = subprocess.run(
            ["node", "--input-type=module", "-e", _COMPILE_ALL, json.dumps([jobs, ASC_FLAGS])],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            pytest.fail(f"asc failed to compile the runner fixtures:\n{proc.stderr}")
    _COMPILED.update({stem: path.read_bytes() for stem, path in outputs.items()})
    return dict(_COMPILED)


@pytest.fixture(scope="session")
def runner_pool() -> Iterator[RunnerPool]:
    """A shared pool of two real sandbox subprocesses."""
    with RunnerPool(2, grace_ms=1000) as pool:
        yield pool


@pytest.fixture
def make_request(as_modules: dict[str, bytes]) -> Callable[..., RunRequest]:
    """Factory: a RunRequest for a fixture module by name, with optional limit overrides."""

    def make(
        name: str,
        input_json: str = "{}",
        *,
        language: Language = Language.ASSEMBLYSCRIPT,
        **limits: int,
    ) -> RunRequest:
        return RunRequest(
            language=language,
            artifact=as_modules[name],
            input_json=input_json,
            limits=Limits(**limits),
        )

    return make
