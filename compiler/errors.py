"""Errors of the compile step: the user's code is wrong, or the compiler itself is not working.

`CompileError` and its subclasses mean the source (or the uploaded module) cannot become a
runnable function: the job is done and its result is a failure the user reads. Their message
is that user-facing text.

`CompilerUnavailable` means the platform could not compile right now (Node missing, the
compiler failed to start): the job should be retried, not reported as the user's fault.
"""

from __future__ import annotations


class CompileError(Exception):
    """The user's source or module cannot be turned into a runnable function (str() is the text)."""


class AssemblyScriptCompileError(CompileError):
    """asc rejected the source; the message holds its diagnostics with line and column."""


class CompileTimeout(AssemblyScriptCompileError):
    """Compiling the source took longer than the allowed time."""


class WasmModuleError(CompileError):
    """An uploaded WebAssembly module is not valid or does not follow the pnil ABI."""


class CompilerUnavailable(RuntimeError):
    """The compiler could not run (infrastructure problem); retry the job later."""


class CompilerCrashed(CompilerUnavailable):
    """The compiler process died and a replacement could not be started."""
