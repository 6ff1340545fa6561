-- Finding executions left RUNNING by a process that died stays cheap.
CREATE INDEX executions_running ON executions (function_id, started_at) WHERE status = 'RUNNING';
