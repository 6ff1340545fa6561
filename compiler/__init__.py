"""Compiling a source into the artifact the runner runs: asc, the JavaScript and Python checks, wasm."""
