"""Validation of user-supplied WebAssembly modules (language `wasm`) against the pnil ABI."""

from __future__ import annotations

import base64
import binascii
import functools

import wasmtime

from compiler.errors import WasmModuleError
from runner.assemblyscript.abi import (
    HOST_IMPORTS,
    HOST_MODULE,
    REQUIRED_EXPORTS,
    REQUIRED_MEMORY,
    describe,
    signature_of,
)
from runner.engine import engine_config

WASM_MAGIC = b"\0asm"
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
RUNTIME_HINT = "functions built with asc --exportRuntime export __new, __pin, __unpin"

# The runner's own ABI table: what a module must export and may import.
ALLOWED_IMPORTS = HOST_IMPORTS
ALLOWED_IMPORT_MODULE = HOST_MODULE


def validate_wasm_module(
    source_b64: str,
    engine: wasmtime.Engine | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """Decodes a base64 module, checks it compiles and follows the ABI, and returns its bytes."""
    binary = _decode(source_b64, max_bytes)
    check_abi(binary, engine=engine)
    return binary


def check_abi(binary: bytes, *, source_terms: bool = False, engine: wasmtime.Engine | None = None) -> None:
    """Raise WasmModuleError unless a compiled module exports and imports what the runner expects.

    `source_terms`: explain a problem the way an AssemblyScript author fixes it.
    """
    module = _compile(binary, engine or _default_engine())
    try:
        _check_exports(module)
        _check_imports(module)
    except WasmModuleError as exc:
        if not source_terms:
            raise
        raise WasmModuleError(f"{exc} — {AS_HINT}") from exc


AS_HINT = (
    "in AssemblyScript: `export function handle(input: string): string`, and call no host function "
    "other than those pnil provides (no @external or `declare function` of your own)"
)


@functools.cache
def _default_engine() -> wasmtime.Engine:
    # The runner's configuration: a module that validates here is one the runner accepts.
    return wasmtime.Engine(engine_config())


def _decode(source_b64: str, max_bytes: int) -> bytes:
    # Base64 text may arrive wrapped over several lines; whitespace is not data.
    text = "".join(source_b64.split()) if isinstance(source_b64, str) else source_b64
    try:
        binary = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise WasmModuleError(
            f"source is not valid base64 ({exc}); send the module's bytes base64-encoded"
        ) from exc
    if len(binary) > max_bytes:
        raise WasmModuleError(
            f"module is too large ({len(binary)} bytes, at most {max_bytes}); "
            f"build it with --optimize or split the function"
        )
    if not binary.startswith(WASM_MAGIC):
        # wasmtime would also accept the text format; a function's source must be a binary.
        raise WasmModuleError(
            "source is not a WebAssembly binary (it does not start with \\0asm); "
            "send the base64 of a compiled .wasm file"
        )
    return binary


def _compile(binary: bytes, engine: wasmtime.Engine) -> wasmtime.Module:
    try:
        return wasmtime.Module(engine, binary)
    except wasmtime.WasmtimeError as exc:
        raise WasmModuleError(
            f"not a valid WebAssembly module: {_short_reason(str(exc))}; "
            f"rebuild it with a WebAssembly compiler such as asc"
        ) from exc


def _short_reason(message: str) -> str:
    """wasmtime says 'failed to parse ...\n\nCaused by:\n    <reason>'; keep the reason."""
    lines = [" ".join(line.split()) for line in message.splitlines() if line.strip()]
    if "Caused by:" in lines:
        cause = lines[lines.index("Caused by:") + 1 :]
        if cause:
            return "; ".join(cause)[:300]
    return (lines[0] if lines else "unknown error")[:300]


def _check_exports(module: wasmtime.Module) -> None:
    exports = {export.name: export.type for export in module.exports}
    missing = [name for name in REQUIRED_EXPORTS if name not in exports]
    if REQUIRED_MEMORY not in exports:
        missing.append(REQUIRED_MEMORY)
    if missing:
        raise WasmModuleError(
            f"invalid ABI export: module does not export {', '.join(missing)} ({RUNTIME_HINT})"
        )
    problems = []
    for name, expected in REQUIRED_EXPORTS.items():
        kind = exports[name]
        if not isinstance(kind, wasmtime.FuncType):
            problems.append(f"{name} is not a function")
        elif signature_of(kind) != expected:
            problems.append(f"{name} has type {describe(signature_of(kind))}, expected {describe(expected)}")
    if not isinstance(exports[REQUIRED_MEMORY], wasmtime.MemoryType):
        problems.append(f"{REQUIRED_MEMORY} is not a memory")
    if problems:
        raise WasmModuleError(
            f"invalid ABI export: {'; '.join(problems)} (export handle(input: string): string "
            f"from AssemblyScript built with --exportRuntime)"
        )


def _check_imports(module: wasmtime.Module) -> None:
    problems = []
    for item in module.imports:
        name = f"{item.module}.{item.name}"
        expected = ALLOWED_IMPORTS.get(item.name or "")
        if item.module != ALLOWED_IMPORT_MODULE or expected is None:
            problems.append(name)
        elif not isinstance(item.type, wasmtime.FuncType):
            problems.append(f"{name} (not a function)")
        elif signature_of(item.type) != expected:
            got = describe(signature_of(item.type))
            problems.append(f"{name} (type {got}, expected {describe(expected)})")
    if problems:
        allowed = ", ".join(f"{ALLOWED_IMPORT_MODULE}.{name}" for name in ALLOWED_IMPORTS)
        raise WasmModuleError(
            f"unsupported import: module imports {', '.join(problems)}; only {allowed} are "
            f"provided (no WASI or other host functions)"
        )
