"""The host API: what a function's code may ask of pnil from inside the sandbox.

The runner subprocess forwards each call to the process that started the run (web or executor),
which holds the database pool; the guest never gets a socket, a file or the environment.
"""
