"""Export lookup and i32 calls without wasmtime-py's per-call overhead.

``Func.__call__`` looks up the function type and converts every argument through ``Val``
on each call, and ``Instance.exports`` wraps every export; together that was two thirds of
an echo run. The calls here go straight to the C API (``wasmtime_func_call_unchecked``)
for exports whose signatures were checked once, when the module was prepared, and keep
wasmtime-py's trap and host-exception handling (``enter_wasm``).
"""

from __future__ import annotations

import ctypes

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime._func import enter_wasm

_RAW2 = ffi.wasmtime_val_raw_t * 2


class ExportMissing(LookupError):
    """The instance has no export of that name and kind."""


def export_func(store: wasmtime.Store, instance: wasmtime.Instance, name: bytes) -> object:
    """The raw ``wasmtime_func_t`` of the exported function ``name``."""
    item = _export(store, instance, name)
    if item.kind != ffi.WASMTIME_EXTERN_FUNC.value:
        raise ExportMissing(name.decode())
    return item.of.func


def export_memory(store: wasmtime.Store, instance: wasmtime.Instance, name: bytes) -> wasmtime.Memory:
    """The exported linear memory ``name``."""
    item = _export(store, instance, name)
    if item.kind != ffi.WASMTIME_EXTERN_MEMORY.value:
        raise ExportMissing(name.decode())
    return wasmtime.Memory._from_raw(item.of.memory)


def call_i32(store: wasmtime.Store, func: object, *args: int) -> int:
    """Call a function of type ``(i32...) -> i32`` (checked beforehand) and return its result."""
    # One raw slot per argument, results written back over the first slots.
    vals = _RAW2()
    for index, value in enumerate(args):
        vals[index].i32 = value
    with enter_wasm(store) as trap:
        error = ffi.wasmtime_func_call_unchecked(store._context(), ctypes.byref(func), vals, 2, trap)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    return vals[0].i32 & 0xFFFFFFFF  # AssemblyScript pointers are unsigned


def _export(store: wasmtime.Store, instance: wasmtime.Instance, name: bytes):
    item = ffi.wasmtime_extern_t()
    found = ffi.wasmtime_instance_export_get(
        store._context(), ctypes.byref(instance._instance), name, len(name), ctypes.byref(item)
    )
    if not found:
        raise ExportMissing(name.decode())
    return item
