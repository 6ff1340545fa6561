"""The `scheduler` process: fires SCHEDULED functions by queueing executions, once per tick cluster-wide."""
