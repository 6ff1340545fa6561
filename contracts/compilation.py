"""The compile messages: CompilationJob and CompilationResult, with the version and tenant they are
for, and the contract number every message carries (queue and task names: contracts/queues.py)."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from typing import Any

# How the result published for a dead-lettered compile job begins: it never replaces a real
# compile error already recorded for the same version.
DEAD_LETTER_ERROR = "compilation could not complete"

# The message contract this release writes ("contract" in each message) and the ones it reads:
# during a rolling upgrade the new release reads what the previous one queued (contract 1 had no
# field), and a message of a newer contract waits for a process of the newer release.
# Contract 3 calls the version `version` (as migration 0028 renamed the columns); contracts 1 and
# 2 called it by the older name below.
CONTRACT = 3
READS_CONTRACTS = (1, 2, 3)
_VERSION_FIELD_BEFORE_3 = "revision"  # codemod: keep (the field of messages of contracts 1 and 2)
# A newer contract's message is retried after this long (a newer process is likely to take it).
NEWER_CONTRACT_RETRY_S = 30


class NewerContract(Exception):  # noqa: N818 - a condition, not a failure of the message
    """A message written by a newer release; a process of that release will take it."""


def contract_of(data: dict[str, Any]) -> int:
    """The message's contract number; NewerContract when this release cannot read it."""
    contract = data.get("contract", 1)
    if not isinstance(contract, int) or isinstance(contract, bool) or contract < 1:
        raise ValueError(f"contract must be a positive integer, got {contract!r}")
    if contract not in READS_CONTRACTS:
        raise NewerContract(f"message contract {contract}; this release reads {READS_CONTRACTS}")
    return contract


def version_of(data: dict[str, Any], contract: int) -> int:
    """The version a message is for, under the field name of its contract."""
    return int(data["version" if contract >= 3 else _VERSION_FIELD_BEFORE_3])


@dataclass(frozen=True, kw_only=True, slots=True)
class CompilationJob:
    """CompilationJob {functionId, language, source, version} (+ tenantId)."""

    function_id: uuid.UUID
    tenant_id: uuid.UUID
    language: str
    source: str
    version: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompilationJob:
        """Parse a message body; KeyError/ValueError/TypeError mean a malformed message."""
        contract = contract_of(data)
        return cls(
            function_id=uuid.UUID(data["functionId"]),
            tenant_id=uuid.UUID(data["tenantId"]),
            language=str(data["language"]),
            source=str(data["source"]),
            version=version_of(data, contract),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "contract": CONTRACT,
            "functionId": str(self.function_id),
            "tenantId": str(self.tenant_id),
            "language": self.language,
            "source": self.source,
            "version": self.version,
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class CompilationResult:
    """CompilationResult {functionId, success, wasmBinary (base64) | null, error | null, version}."""

    function_id: uuid.UUID
    tenant_id: uuid.UUID
    success: bool
    wasm_binary: bytes | None
    error: str | None
    version: int
    # Who produced the binary (compiler/version.py): the key its artifact is reused under.
    compiler_version: str | None = None

    def __post_init__(self) -> None:
        if self.success and self.wasm_binary is None:
            raise ValueError("a successful result needs a binary")
        if not self.success and not self.error:
            raise ValueError("a failed result needs an error")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompilationResult:
        contract = contract_of(data)
        binary = data.get("wasmBinary")
        success = data["success"]
        if not isinstance(success, bool):
            # bool("false") is True: a non-boolean flag must not turn a failure into a success.
            raise TypeError(f"success must be true or false, got {success!r}")
        return cls(
            function_id=uuid.UUID(data["functionId"]),
            tenant_id=uuid.UUID(data["tenantId"]),
            success=success,
            wasm_binary=base64.b64decode(binary, validate=True) if binary is not None else None,
            error=data.get("error"),
            version=version_of(data, contract),
            compiler_version=data.get("compilerVersion"),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "contract": CONTRACT,
            "functionId": str(self.function_id),
            "tenantId": str(self.tenant_id),
            "success": self.success,
            "compilerVersion": self.compiler_version,
            "wasmBinary": base64.b64encode(self.wasm_binary).decode() if self.wasm_binary else None,
            "error": self.error,
            "version": self.version,
        }
