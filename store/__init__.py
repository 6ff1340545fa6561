"""Data access: SQL for functions, versions, executions and tenants, one module each."""
