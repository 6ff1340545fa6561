"""What identifies a compiler's output: the key of content-addressed artifacts.

Two compiles of the same source in the same language by the same compiler version give the same
artifact, so a stored one can be reused. Bump RULES when pnil's own checks or flags change what a
compile accepts or produces.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RULES = "pnil-compile-3"


@cache
def compiler_version(language: str) -> str:
    """The version string of the compiler for a language, as installed in this deployment."""
    if language == "assemblyscript":
        package = PROJECT_ROOT / "node_modules" / "assemblyscript" / "package.json"
        try:
            asc = json.loads(package.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            asc = "unknown"
        library = hashlib.sha256((Path(__file__).parent / "asc_lib" / "pnil.ts").read_bytes())
        return f"{RULES}/asc-{asc}/lib-{library.hexdigest()[:12]}"
    if language == "javascript":
        try:
            quickjs = metadata.version("qjs-wasi-reactor.wasm")
        except metadata.PackageNotFoundError:
            quickjs = "unknown"
        return f"{RULES}/quickjs-{quickjs}"
    if language == "python":
        from runner.python.runtime import runtime_version

        return f"{RULES}/{runtime_version()}"
    return f"{RULES}/{language}"


def source_digest(source: str) -> bytes:
    """SHA-256 of the source's UTF-8 bytes."""
    return hashlib.sha256(source.encode("utf-8")).digest()
