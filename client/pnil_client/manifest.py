"""`pnil.toml`: the functions of a directory, read (tomllib) and validated with the line of each
problem, and written back by `pnil export`.

    [functions.hello]
    file = "hello.js"              # required; the language comes from the extension
    type = "HTTP"                  # then any field of the API, as the API names it
    httpPath = "/hello"
    resourceLimits = { maxExecutionTimeMs = 2000 }

Every key but `file` and `language` is sent to the API as it is written, so fields the server
learns later (retryPolicy, secrets, ...) work without a new CLI.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILENAME = "pnil.toml"
EXTENSIONS = {
    ".ts": "assemblyscript",
    ".js": "javascript",
    ".mjs": "javascript",
    ".py": "python",
    ".wasm": "wasm",
}
SUFFIX_OF = {"assemblyscript": ".ts", "javascript": ".js", "python": ".py", "wasm": ".wasm"}
# Fields that must have a given TOML type when present (the server checks their values).
_TYPES: dict[str, type | tuple[type, ...]] = {
    "description": str,
    "type": str,
    "cronExpression": str,
    "timezone": str,
    "misfireGraceS": int,
    "httpPath": str,
    "httpAuth": str,
    "httpMethods": list,
    "eventTypes": list,
    "resourceLimits": dict,
    "metadata": dict,
    "tags": list,
    "allowedHosts": list,
    "state": str,
}
# What the server answers but a manifest never sets (export leaves them out).
READ_ONLY = frozenset(
    {
        "id",
        "name",
        "language",
        "source",
        "status",
        "compileError",
        "version",
        "pendingVersion",
        "state",
        "createdBy",
        "createdAt",
        "updatedAt",
        "nextRunAt",
        "lastRunAt",
        "missedTicks",
        "skippedTicks",
        "allowedTransitions",
    }
)


class ManifestError(ValueError):
    """A problem in the manifest; str() is `path:line: what is wrong`."""


@dataclass(frozen=True)
class Declared:
    """One function as the manifest declares it."""

    name: str
    file: Path
    language: str
    source: str
    fields: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    @property
    def digest(self) -> str:
        """sha256 of the language and source: what decides whether a new version is needed."""
        return content_digest(self.language, self.source)


def content_digest(language: str, source: str) -> str:
    return hashlib.sha256(f"{language}\0{source}".encode()).hexdigest()


def load(path: Path) -> list[Declared]:
    """The functions of a manifest, each with its source read; ManifestError names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(
            f"{path}: cannot read it ({exc.strerror}); write one or run `pnil export DIR`"
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}:{_decode_line(exc)}: {exc}") from exc
    for key in data:
        if key != "functions":
            raise ManifestError(
                f"{path}:{_line_of(text, key)}: unknown section {key!r}; use [functions.NAME]"
            )
    functions = data.get("functions", {})
    if not isinstance(functions, dict):
        raise ManifestError(
            f"{path}:{_line_of(text, 'functions')}: functions must be tables [functions.NAME]"
        )
    return [_declared(path, text, name, spec) for name, spec in functions.items()]


def _declared(path: Path, text: str, name: str, spec: Any) -> Declared:
    line = _line_of(text, f"functions.{name}")

    def fail(problem: str, key: str | None = None) -> ManifestError:
        at = _line_of(text, key, after=line) if key else line
        return ManifestError(f"{path}:{at}: function {name!r}: {problem}")

    if not isinstance(spec, dict):
        raise fail('declare it as a table: [functions.NAME] with file = "..."')
    if not name or "/" in name or name != name.strip():
        raise fail("a function name must not be empty, contain '/' or start or end with whitespace")
    file = spec.get("file")
    if not isinstance(file, str) or not file:
        raise fail(
            'needs file = "PATH" (its source, relative to the manifest)', "file" if "file" in spec else None
        )
    source_path = (path.parent / file).resolve()
    language = spec.get("language") or EXTENSIONS.get(source_path.suffix.lower())
    if language not in SUFFIX_OF:
        raise fail(
            f"cannot tell the language of {file}: use a .ts, .js, .py or .wasm file or set language",
            "language" if "language" in spec else "file",
        )
    for key, kind in _TYPES.items():
        if key in spec and not isinstance(spec[key], kind):
            raise fail(f"{key} must be a {_kind_name(kind)}", key)
    try:
        raw = source_path.read_bytes()
    except OSError as exc:
        raise fail(f"cannot read {file} ({exc.strerror})", "file") from exc
    source = base64.b64encode(raw).decode() if language == "wasm" else raw.decode("utf-8")
    fields = {k: v for k, v in spec.items() if k not in ("file", "language")}
    return Declared(name=name, file=source_path, language=language, source=source, fields=fields, line=line)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return {str: "string", int: "integer", list: "list", dict: "table"}.get(kind, str(kind))  # type: ignore[arg-type]


def _decode_line(exc: tomllib.TOMLDecodeError) -> int:
    found = re.search(r"line (\d+)", str(exc))
    return int(found.group(1)) if found else 1


def _line_of(text: str, key: str, *, after: int = 0) -> int:
    """The line declaring a table (`[a.b]`) or a key (`key =`), searched from line `after` on."""
    lines = text.splitlines()
    last = key.split(".")[-1]
    dotted = r"\s*\.\s*".join(_key_pattern(p) for p in key.split("."))
    header = re.compile(r"^\s*\[+\s*" + dotted + r"\s*[\].]")
    assign = re.compile(r"^\s*" + _key_pattern(last) + r"\s*=")
    start = max(after - 1, 0)
    for number, line in enumerate(lines[start:], start=start + 1):
        if header.match(line) or (after and assign.match(line)):
            return number
        if after and number > after and line.lstrip().startswith("["):
            break
    return after or 1


def _key_pattern(key: str) -> str:
    return "(?:" + "|".join((re.escape(key), re.escape(json.dumps(key)), re.escape(f"'{key}'"))) + ")"


def changed_fields(declared: Declared, server: dict[str, Any]) -> list[str]:
    """The fields whose declared value differs from the server's (a table compares only the keys
    it declares: the server fills in defaults)."""
    changed = []
    for key, value in declared.fields.items():
        have = server.get(key)
        if isinstance(value, dict) and isinstance(have, dict):
            if any(have.get(k) != v for k, v in value.items()):
                changed.append(key)
        elif have != value:
            changed.append(key)
    return changed


# -- writing (pnil export) -------------------------------------------------------------------
def file_name(name: str, language: str) -> str:
    """A file name for a function's source: its name with anything unsafe replaced."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "function"
    return safe + SUFFIX_OF[language]


def exported_fields(function: dict[str, Any]) -> dict[str, Any]:
    """The fields of a server function that a manifest sets (null ones left out; DRAFT kept)."""
    fields = {k: v for k, v in function.items() if k not in READ_ONLY and v is not None}
    if function.get("state") == "DRAFT":
        fields["state"] = "DRAFT"
    return fields


def dumps(functions: list[tuple[str, str, dict[str, Any]]]) -> str:
    """TOML text for (name, file, fields) triples."""
    parts = ["# pnil functions of this directory: `pnil deploy` makes a server match it.\n"]
    for name, file, fields in functions:
        parts.append(f"\n[functions.{_key(name)}]\nfile = {_value(file)}\n")
        parts += [f"{_key(k)} = {_value(v)}\n" for k, v in fields.items()]
    return "".join(parts)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
