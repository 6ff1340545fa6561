"""Data access: SQL for functions, versions, executions and tenants, one module each.

Connections of the web and the executor plan prepared statements once (`plan_cache_mode =
force_generic_plan`, infra/database.py): the hot statements touch partitioned tables, where a
per-call plan costs more than running them. A statement with an optional filter written as
`%(x)s::type IS NULL OR column = %(x)s` needs the parameter's value to be planned well (a generic
plan cannot drop the branch nor use the column's index), so it is executed with `prepare=False`:
never prepared, planned for its values on every call. tests/unit/test_optional_filters.py keeps it so.
"""
