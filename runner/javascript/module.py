"""Finding the QuickJS-NG reactor shipped on PyPI and compiling it once per process.

The compiled code is cached on disk as ``Module.serialize()`` output written by this code
only, in a directory owned by the current user and writable by nobody else, named by
the reactor's sha256 and the Engine fingerprint. Deserializing runs native code, so no
other file is ever deserialized: user bytes never reach this path.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
import sysconfig
import threading
import weakref
from pathlib import Path

import wasmtime

from runner.engine import engine_fingerprint
from runner.errors import RunnerError
from runner.modules import private_dir, write_atomically

DISTRIBUTION = "qjs-wasi-reactor.wasm"
WASM_NAME = "qjs-wasi-reactor.wasm"
WASM_PAGE = 65536

_MODULES: weakref.WeakKeyDictionary[wasmtime.Engine, wasmtime.Module] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class QuickJSUnavailable(RunnerError):
    """The QuickJS reactor could not be found or compiled."""


def reactor_path() -> Path:
    """Where the installed ``qjs-wasi-reactor.wasm`` package keeps the reactor."""
    try:
        for entry in importlib.metadata.files(DISTRIBUTION) or ():
            if entry.name == WASM_NAME:
                path = Path(str(entry.locate()))
                if path.is_file():
                    return path
    except importlib.metadata.PackageNotFoundError:
        pass
    # A data-only wheel may be installed without RECORD metadata: try the usual places.
    candidates = [Path(sysconfig.get_paths()["purelib"]), Path(sys.prefix)]
    for base in candidates:
        path = base / "qjs-wasi-reactor" / WASM_NAME
        if path.is_file():
            return path
    raise QuickJSUnavailable(
        f"QuickJS reactor not found: install the PyPI package {DISTRIBUTION!r} "
        "(pip install qjs-wasi-reactor.wasm)"
    )


def default_cache_dir() -> Path:
    """The per-user directory for compiled reactor code."""
    return Path.home() / ".cache" / "pnil" / "quickjs"


def load_reactor(engine: wasmtime.Engine, cache_dir: str | os.PathLike[str] | None = None) -> wasmtime.Module:
    """The compiled reactor for ``engine``: compiled or deserialized once per process."""
    with _LOCK:
        module = _MODULES.get(engine)
        if module is None:
            module = _compile_or_restore(engine, Path(cache_dir or default_cache_dir()))
            _MODULES[engine] = module
        return module


def initial_memory_bytes(module: wasmtime.Module) -> int:
    """The size of the reactor's memory right after instantiation."""
    for export in module.exports:
        if export.name == "memory" and isinstance(export.type, wasmtime.MemoryType):
            return export.type.limits.min * WASM_PAGE
    raise QuickJSUnavailable("the QuickJS reactor exports no memory")


def _compile_or_restore(engine: wasmtime.Engine, cache_dir: Path) -> wasmtime.Module:
    path = reactor_path()
    wasm = path.read_bytes()
    digest = hashlib.sha256(wasm).hexdigest()
    tag = hashlib.sha256(engine_fingerprint().encode()).hexdigest()[:16]
    cached = private_dir(cache_dir)
    target = cached / f"qjs-{digest[:32]}-{tag}.cwasm" if cached is not None else None
    if target is not None and target.is_file():
        try:
            return wasmtime.Module.deserialize_file(engine, str(target))
        except wasmtime.WasmtimeError:
            pass  # written by another wasmtime build or truncated: compile and replace it
    try:
        module = wasmtime.Module(engine, wasm)
    except wasmtime.WasmtimeError as exc:
        raise QuickJSUnavailable(f"the QuickJS reactor at {path} does not compile: {exc}") from exc
    if target is not None:
        write_atomically(target, module.serialize())
    return module
