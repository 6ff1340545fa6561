-- pnil's execution events (jsruntime.execution.started|completed|failed|timeout|cancelled) are
-- read from the execution rows from now on (store/events.py); a row in `events` is written only
-- for one an EVENT function or workflow may receive. Those rows written before this migration
-- stay where they are: GET /events reads execution rows only for what happened after it
-- (schema_migrations.applied_at of this file).
-- GET /events lists the newest first: these indexes give each tenant's starts and ends in time.
CREATE INDEX IF NOT EXISTS executions_tenant_started ON executions (tenant_id, started_at)
    WHERE started_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_tenant_completed ON executions (tenant_id, completed_at)
    WHERE completed_at IS NOT NULL;
