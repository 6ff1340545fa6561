"""A bounded LRU of compiled modules keyed by the artifact's sha256, optionally on disk.

The disk cache only ever holds ``Module.serialize()`` output written by this code, in a
directory the operator chose, under a name that includes the Engine fingerprint; bytes
that came from a user are always compiled, never deserialized.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import wasmtime

from runner.engine import engine_fingerprint
from runner.errors import GuestFailure

T = TypeVar("T")
CompileHook = Callable[[bool], None]


class ModuleCache(Generic[T]):
    """Compiles artifacts once per subprocess and keeps what ``prepare`` made of them."""

    def __init__(
        self,
        engine: wasmtime.Engine,
        prepare: Callable[[wasmtime.Module], T],
        *,
        capacity: int = 64,
        cache_dir: str | os.PathLike[str] | None = None,
        on_compile: CompileHook | None = None,
    ) -> None:
        self._engine = engine
        self._prepare = prepare
        self._capacity = capacity
        self._entries: OrderedDict[str, T | GuestFailure] = OrderedDict()
        self._dir = Path(cache_dir) if cache_dir is not None else None
        self._tag = hashlib.sha256(engine_fingerprint().encode()).hexdigest()[:16]
        self._on_compile = on_compile
        self.hits = 0
        self.misses = 0

    def load(self, artifact: bytes) -> T:
        """The prepared module for ``artifact``; raises GuestFailure for an unusable one."""
        key = hashlib.sha256(artifact).hexdigest()
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            entry = self._build(key, artifact)
            self._entries[key] = entry
            if len(self._entries) > self._capacity:
                self._entries.popitem(last=False)
        else:
            self.hits += 1
            self._entries.move_to_end(key)
        if isinstance(entry, GuestFailure):
            raise entry
        return entry

    def __len__(self) -> int:
        return len(self._entries)

    def _build(self, key: str, artifact: bytes) -> T | GuestFailure:
        if self._on_compile is not None:
            self._on_compile(True)
        try:
            module = self._compile(key, artifact)
            return self._prepare(module)
        except GuestFailure as failure:
            # Remembered like a module: a broken artifact fails fast on every later run.
            return failure
        finally:
            if self._on_compile is not None:
                self._on_compile(False)

    def _compile(self, key: str, artifact: bytes) -> wasmtime.Module:
        path = self._dir / f"{key}-{self._tag}.cwasm" if self._dir is not None else None
        if path is not None and path.is_file():
            try:
                return wasmtime.Module.deserialize_file(self._engine, str(path))
            except (wasmtime.WasmtimeError, OSError):
                pass  # a stale or truncated cache file: compile again and overwrite it
        try:
            module = wasmtime.Module(self._engine, artifact)
        except wasmtime.WasmtimeError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown error"
            raise GuestFailure(f"invalid WebAssembly module: {first_line}") from exc
        if path is not None:
            write_atomically(path, module.serialize())
        return module


def write_atomically(path: Path, data: bytes | bytearray) -> None:
    """Write a cache file so readers never see it half written; failures only lose the cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".cwasm")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except OSError:
        pass  # the disk cache is an optimisation; a read-only or full disk must not fail runs


def private_dir(path: Path) -> Path | None:
    """``path`` created if needed, or None when someone else could write into it."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.stat()
    except OSError:
        return None
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return path
