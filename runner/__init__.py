"""Sandboxed execution: a pool of wasmtime subprocesses running AssemblyScript-ABI and JS.

Entry point for callers: ``runner.sandbox.pool.RunnerPool``; values in ``runner.contract``.
"""
