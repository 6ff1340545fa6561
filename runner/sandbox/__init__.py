"""The sandbox boundary: a pool of runner subprocesses, the child that runs requests, their pipe protocol."""
