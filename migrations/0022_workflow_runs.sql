-- Workflow runs: a canvas (chain, group, chord of functions) whose steps are ordinary queued
-- executions. What follows a step is written in the transaction that records the step's end
-- (workflows/handover.py); a group's join is a counter in the run row (`joins`).
CREATE TABLE IF NOT EXISTS workflow_runs (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- PENDING until a step starts (RUNNING is derived from the steps when read).
    status           text NOT NULL DEFAULT 'PENDING'
                     CHECK (status IN ('PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    -- The canvas as validated, functions resolved to ids; immutable for the run.
    steps            jsonb NOT NULL,
    on_failure       jsonb,
    input            jsonb NOT NULL,
    output           jsonb,
    error            text,
    failed_step      text,
    -- Per group (its JSON pointer): how many members have not finished yet.
    joins            jsonb NOT NULL DEFAULT '{}',
    workflow_name    text,
    workflow_version integer,
    trigger_type     text NOT NULL DEFAULT 'API',
    trigger_data     jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    completed_at     timestamptz
);
CREATE INDEX IF NOT EXISTS workflow_runs_tenant_created ON workflow_runs (tenant_id, created_at DESC, id);

-- A step is an execution of the run, at the JSON pointer of its node in the run's body.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS workflow_run_id uuid REFERENCES workflow_runs (id) ON DELETE CASCADE;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS step_path text;
CREATE INDEX IF NOT EXISTS executions_workflow_run ON executions (workflow_run_id, step_path)
    WHERE workflow_run_id IS NOT NULL;

ALTER TABLE executions DROP CONSTRAINT IF EXISTS executions_trigger_type_check;
ALTER TABLE executions ADD CONSTRAINT executions_trigger_type_check
    CHECK (trigger_type IN ('CRON', 'HTTP', 'EVENT', 'MANUAL', 'API', 'WORKFLOW'));
