-- Retries, delay, expiry and replay of queued executions (the user's own work).

-- A function's retry policy (null: the defaults of infra/retry_policy.py, i.e. no retry).
ALTER TABLE functions ADD COLUMN IF NOT EXISTS retry_policy jsonb;

-- Each attempt is its own execution row. `retry_policy` is the effective policy the chain
-- follows (null for sync executions and HTTP triggers: they never retry). `retried` says the
-- next attempt was created in the statement that recorded this one's end.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS attempt integer NOT NULL DEFAULT 1;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS max_attempts integer NOT NULL DEFAULT 1;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS retry_of uuid;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS first_attempt_id uuid;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS retried boolean NOT NULL DEFAULT false;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS retry_policy jsonb;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS scheduled_for timestamptz;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS expires_at timestamptz;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS replay_of uuid;

-- One next attempt per attempt, whoever records the end (the executor or the lost sweep).
CREATE UNIQUE INDEX IF NOT EXISTS executions_retry_of ON executions (retry_of) WHERE retry_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_first_attempt ON executions (first_attempt_id)
    WHERE first_attempt_id IS NOT NULL;
-- The user's dead letters: failed for good, newest first per tenant.
CREATE INDEX IF NOT EXISTS executions_final_failures ON executions (tenant_id, created_at DESC, id DESC)
    WHERE status IN ('FAILED', 'TIMEOUT') AND NOT retried AND retry_policy IS NOT NULL;
-- Housekeeping finds PENDING executions past their expiry, and the gauge counts delayed ones.
CREATE INDEX IF NOT EXISTS executions_pending_expiry ON executions (expires_at)
    WHERE status = 'PENDING' AND expires_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS executions_pending_scheduled ON executions (scheduled_for)
    WHERE status = 'PENDING' AND scheduled_for IS NOT NULL;
