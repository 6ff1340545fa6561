"""The shared CPython runtime: one WebAssembly component for every Python function.

Built by componentize-py from the WIT world (``wit/``) and the guest modules (``guest/``) kept
in this package, once per content (``.cache/python-runtime/runtime-<digest>.wasm``), and
compiled to native code once per Engine fingerprint into a private per-user cache, like the
QuickJS reactor. Only files this code wrote are ever deserialized; user bytes never reach it.

``python -m runner.python.runtime`` builds and precompiles it (``make install`` runs it).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import weakref
from contextlib import contextmanager
from functools import cache
from importlib import metadata
from pathlib import Path

import wasmtime
from wasmtime import component

from runner.engine import engine_fingerprint
from runner.errors import RunnerError
from runner.modules import private_dir, write_atomically

PACKAGE_DIR = Path(__file__).resolve().parent
WIT_DIR = PACKAGE_DIR / "wit"
GUEST_DIR = PACKAGE_DIR / "guest"
WORLD = "runtime"
ENTRY_MODULE = "pnil_runtime"
BUILD_DIR = PACKAGE_DIR.parent.parent / ".cache" / "python-runtime"
BUILD_TIMEOUT_S = 300

_COMPONENTS: weakref.WeakKeyDictionary[wasmtime.Engine, component.Component] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class PythonUnavailable(RunnerError):
    """The Python runtime could not be built or compiled."""


@cache
def runtime_digest() -> str:
    """sha256 of what the runtime is made from: componentize-py's version, the WIT, the guest."""
    digest = hashlib.sha256(f"componentize-py {_componentize_version()}".encode())
    for path in sorted([*WIT_DIR.glob("*.wit"), *GUEST_DIR.glob("*.py")]):
        digest.update(f"\0{path.name}\0".encode() + path.read_bytes())
    return digest.hexdigest()


def runtime_version() -> str:
    """Names the runtime in compiler versions: a changed runtime re-checks stored sources."""
    return f"componentize-py-{_componentize_version()}/{runtime_digest()[:12]}"


def default_cache_dir() -> Path:
    """The per-user directory for the compiled runtime."""
    return Path.home() / ".cache" / "pnil" / "python"


def runtime_wasm(build_dir: Path = BUILD_DIR) -> Path:
    """The runtime component for the current sources, built now if it is not there yet."""
    target = build_dir / f"runtime-{runtime_digest()[:32]}.wasm"
    if target.is_file():
        return target
    with _file_lock(build_dir / ".build.lock"):
        if not target.is_file():  # another process may have built it while this one waited
            _build(target)
    return target


def load_runtime(
    engine: wasmtime.Engine, cache_dir: str | os.PathLike[str] | None = None
) -> component.Component:
    """The compiled runtime for ``engine``: compiled or deserialized once per process."""
    with _LOCK:
        found = _COMPONENTS.get(engine)
        if found is None:
            found = _COMPONENTS[engine] = _compile_or_restore(engine, Path(cache_dir or default_cache_dir()))
        return found


def _compile_or_restore(engine: wasmtime.Engine, cache_dir: Path) -> component.Component:
    tag = hashlib.sha256(engine_fingerprint().encode()).hexdigest()[:16]
    cached = private_dir(cache_dir)
    target = cached / f"runtime-{runtime_digest()[:32]}-{tag}.cwasm" if cached is not None else None
    restored = _restore(engine, target)
    if restored is not None:
        return restored
    wasm = runtime_wasm()
    # Compiling takes seconds: one process compiles, the others wait and deserialize its file.
    with _file_lock(target.with_suffix(".lock")) if target is not None else _no_lock():
        restored = _restore(engine, target)
        if restored is not None:
            return restored
        try:
            compiled = component.Component.from_file(engine, str(wasm))
        except wasmtime.WasmtimeError as exc:
            raise PythonUnavailable(f"the Python runtime at {wasm} does not compile: {exc}") from exc
        if target is not None:
            write_atomically(target, compiled.serialize())
    return compiled


def _restore(engine: wasmtime.Engine, target: Path | None) -> component.Component | None:
    if target is None or not target.is_file():
        return None
    try:
        # From the file, not bytes: wasmtime maps it and initialises memory copy-on-write.
        return component.Component.deserialize_file(engine, str(target))
    except wasmtime.WasmtimeError:
        return None  # written by another wasmtime build or truncated: compile and replace it


def _build(target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as work:
        out = Path(work) / "runtime.wasm"
        command = [
            _componentize_command(), "--quiet", "-d", str(WIT_DIR), "-w", WORLD,
            "componentize", ENTRY_MODULE, "-p", str(GUEST_DIR), "-o", str(out),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, cwd=work, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PythonUnavailable(f"building the Python runtime failed: {exc}") from exc
        if done.returncode != 0 or not out.is_file():
            detail = (done.stderr or done.stdout).strip().splitlines()[:12]
            raise PythonUnavailable("building the Python runtime failed: " + " / ".join(detail))
        os.replace(out, target)


def _componentize_command() -> str:
    beside = Path(sys.executable).with_name("componentize-py")
    found = str(beside) if beside.is_file() else shutil.which("componentize-py")
    if found is None:
        raise PythonUnavailable("componentize-py is not installed: run `make install`")
    return found


def _componentize_version() -> str:
    try:
        return metadata.version("componentize-py")
    except metadata.PackageNotFoundError:
        return "missing"


@contextmanager
def _file_lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def _no_lock():
    yield


def main() -> None:
    """Build the runtime and compile it into the default cache (run by ``make install``)."""
    from runner.engine import make_engine

    wasm = runtime_wasm()
    load_runtime(make_engine())
    print(f"Python runtime ready: {wasm.name} ({wasm.stat().st_size // 1024} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
