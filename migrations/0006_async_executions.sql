-- Queued executions: who holds which concurrency slot, cancel requests, idempotent submits.
ALTER TABLE executions ADD COLUMN IF NOT EXISTS slot integer;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS cancel_requested_at timestamptz;
ALTER TABLE executions ADD COLUMN IF NOT EXISTS request_hash text;
-- An idempotency key is the client's per tenant (not per function); released after 24 h.
DROP INDEX IF EXISTS executions_idempotency;
CREATE UNIQUE INDEX IF NOT EXISTS executions_idempotency_tenant ON executions (tenant_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
