"""The execution service: the one path that admits, records and runs an execution, whatever
triggered it (sync API, the executor's queued runs, HTTP, cron, events)."""
