"""AssemblyScript (and ready wasm modules that follow its ABI): the ABI table, calls, traps, host imports."""
