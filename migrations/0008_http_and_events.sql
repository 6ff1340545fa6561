-- HTTP triggers: per-function auth; bindings overlap by path shape and method, checked by the
-- API under a per-tenant lock (the old one-path-per-tenant index forbade GET and POST of one
-- path going to two functions).
ALTER TABLE functions ADD COLUMN IF NOT EXISTS http_auth text NOT NULL DEFAULT 'none'
    CHECK (http_auth IN ('none', 'key'));
DROP INDEX IF EXISTS functions_http_route;
CREATE INDEX IF NOT EXISTS functions_http ON functions (tenant_id) WHERE trigger_type = 'HTTP';

-- Events: posted by users, emitted by functions, or published by pnil itself (jsruntime.*).
CREATE TABLE IF NOT EXISTS events (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    type                text NOT NULL CHECK (length(type) BETWEEN 1 AND 200),
    payload             jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- How many event-triggered executions led to this event (loop guard).
    depth               integer NOT NULL DEFAULT 0,
    source_execution_id uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    dispatched_at       timestamptz,
    executions_started  integer NOT NULL DEFAULT 0,
    suppressed          boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS events_tenant_created ON events (tenant_id, created_at DESC, id);
CREATE INDEX IF NOT EXISTS executions_event ON executions ((trigger_data->>'eventId'))
    WHERE trigger_type = 'EVENT';
-- The executor's sweep deletes events past their retention. BRIN: events are appended in time
-- order, and two events per execution must stay cheap to insert.
CREATE INDEX IF NOT EXISTS events_created ON events USING brin (created_at);
