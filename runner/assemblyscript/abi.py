"""Reading and writing AssemblyScript objects in a guest's linear memory.

An AssemblyScript string is a managed object whose payload is UTF-16LE; the payload's
byte length is the u32 in the object header just before the pointer (``ptr - 4``).
"""

from __future__ import annotations

import ctypes

import wasmtime

from runner.errors import GuestFailure

STRING_CLASS_ID = 2  # AssemblyScript's built-in class id of ``String``

# The exports a module must have, and the only host functions the runner links (all in module
# ``env``), as (params, results) value types. The compiler's wasm check and the runner share it.
REQUIRED_EXPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "handle": (("i32",), ("i32",)),
    "__new": (("i32", "i32"), ("i32",)),
    "__pin": (("i32",), ("i32",)),
    "__unpin": (("i32",), ()),
}
REQUIRED_MEMORY = "memory"
HOST_MODULE = "env"
CONSOLE_LEVELS = ("log", "info", "debug", "warn", "error")
HOST_IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "abort": (("i32", "i32", "i32", "i32"), ()),
    "trace": (("i32", "i32", "f64", "f64", "f64", "f64", "f64"), ()),
    "seed": ((), ("f64",)),
    "Date.now": ((), ("f64",)),
    **{f"console.{level}": (("i32",), ()) for level in CONSOLE_LEVELS},
    # pnil's library module (compiler/asc_lib/pnil.ts): the execution's context as a JSON string,
    # and the host API (strings are AssemblyScript string pointers, 0 meaning null).
    "pnil.context": ((), ("i32",)),
    "pnil.kv.get": (("i32",), ("i32",)),
    "pnil.kv.set": (("i32", "i32", "f64"), ()),
    "pnil.kv.delete": (("i32",), ("i32",)),
    "pnil.kv.list": (("i32", "i32"), ("i32",)),
    "pnil.kv.increment": (("i32", "f64"), ("f64",)),
    "pnil.kv.cas": (("i32", "i32", "i32"), ("i32",)),
    "pnil.http.fetch": (("i32", "i32", "i32", "i32"), ("i32",)),
    "pnil.http.status": ((), ("i32",)),
    "pnil.http.headers": ((), ("i32",)),
    "pnil.emit": (("i32", "i32"), ()),
    "pnil.secrets.get": (("i32",), ("i32",)),
    "pnil.retry": (("i32", "f64"), ()),
    "pnil.enqueue": (("i32", "i32", "f64"), ("i32",)),
}
_U32 = ctypes.c_uint32


def signature_of(functype: wasmtime.FuncType) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A function type as (params, results) value type names, the form of the tables above."""
    return tuple(str(p) for p in functype.params), tuple(str(r) for r in functype.results)


def describe(signature: tuple[tuple[str, ...], tuple[str, ...]]) -> str:
    params, results = signature
    return f"({', '.join(params)}) -> ({', '.join(results)})"


class GuestMemory:
    """Bounds-checked access to one instance's linear memory (re-reads the base each call)."""

    __slots__ = ("_memory", "_store")

    def __init__(self, memory: wasmtime.Memory, store: wasmtime.Store | wasmtime.Caller) -> None:
        self._memory = memory
        self._store = store

    def data_len(self) -> int:
        """The current size of the memory in bytes."""
        return self._memory.data_len(self._store)

    def _address(self, offset: int, size: int) -> int:
        # The base moves when memory grows, so it is fetched for every access.
        limit = self._memory.data_len(self._store)
        if offset < 0 or size < 0 or offset + size > limit:
            raise GuestFailure(
                f"the module returned an out-of-bounds pointer ({offset}+{size} > {limit} bytes)"
            )
        return ctypes.addressof(self._memory.data_ptr(self._store).contents) + offset

    def read(self, offset: int, size: int) -> bytes:
        """A copy of ``size`` bytes at ``offset``."""
        if size == 0:
            return b""
        return ctypes.string_at(self._address(offset, size), size)

    def write(self, offset: int, data: bytes) -> None:
        """Copy ``data`` into the memory at ``offset``."""
        if data:
            ctypes.memmove(self._address(offset, len(data)), data, len(data))

    def u32(self, offset: int) -> int:
        """The little-endian u32 at ``offset``."""
        return _U32.from_address(self._address(offset, 4)).value

    def string_byte_length(self, ptr: int) -> int:
        """Byte length of the UTF-16 payload of the string at ``ptr``."""
        return self.u32(ptr - 4)

    def read_string(self, ptr: int, max_chars: int | None = None) -> str:
        """Decode the AssemblyScript string at ``ptr`` (``None`` pointer → empty string)."""
        if ptr == 0:
            return ""
        size = self.string_byte_length(ptr)
        if max_chars is not None and size > 2 * max_chars:
            text = self.read(ptr, 2 * max_chars).decode("utf-16-le", errors="replace")
            return text + "…"
        return self.read(ptr, size).decode("utf-16-le", errors="replace")


def format_trace(message: str, count: int, args: tuple[float, ...]) -> str:
    """Render ``trace(msg, n, a0..a4)`` like AssemblyScript's loader: ``msg a0, a1``."""
    shown = args[: max(0, min(count, len(args)))]
    if not shown:
        return message
    return message + " " + ", ".join(_number(a) for a in shown)


def _number(value: float) -> str:
    if value == value and value not in (float("inf"), float("-inf")) and value == int(value):
        return str(int(value))
    return repr(value)
