-- One invocation attempt of a function.
CREATE TABLE executions (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    function_id      uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    function_version integer,
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'TIMEOUT', 'CANCELLED')),
    trigger_type     text NOT NULL DEFAULT 'API'
                     CHECK (trigger_type IN ('CRON', 'HTTP', 'EVENT', 'MANUAL', 'API')),
    trigger_data     jsonb,
    input            jsonb,
    output           jsonb,
    error_message    text,
    logs             text,
    metrics          jsonb,
    idempotency_key  text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz,
    CONSTRAINT failed_has_message CHECK (status NOT IN ('FAILED', 'TIMEOUT') OR error_message IS NOT NULL),
    CONSTRAINT completed_has_no_error CHECK (status <> 'COMPLETED' OR error_message IS NULL)
);
CREATE INDEX executions_function_created ON executions (function_id, created_at DESC, id);
CREATE INDEX executions_tenant_created ON executions (tenant_id, created_at DESC);
CREATE UNIQUE INDEX executions_idempotency ON executions (tenant_id, function_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
