-- What a tenant stores stays bounded: its own retention windows and quotas (NULL: the server's
-- PNIL_* setting), what it holds in the key-value store (kept by a trigger, so a quota check
-- reads one row), and a record of every housekeeping prune.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS execution_retention_days integer
    CHECK (execution_retention_days > 0);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS event_retention_days integer CHECK (event_retention_days > 0);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS max_functions integer CHECK (max_functions >= 0);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS max_kv_keys integer CHECK (max_kv_keys >= 0);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS max_kv_bytes bigint CHECK (max_kv_bytes >= 0);
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS max_pending_executions integer
    CHECK (max_pending_executions >= 0);

-- Counting a tenant's queued executions (the pending quota) reads only its PENDING rows.
CREATE INDEX IF NOT EXISTS executions_tenant_pending ON executions (tenant_id) WHERE status = 'PENDING';

CREATE TABLE IF NOT EXISTS kv_usage (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    keys      bigint NOT NULL DEFAULT 0,
    bytes     bigint NOT NULL DEFAULT 0
);
-- An entry's size: its key and its value as JSON text.
CREATE OR REPLACE FUNCTION pnil_kv_usage() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    tid uuid := COALESCE(NEW.tenant_id, OLD.tenant_id);
    dkeys bigint := 0;
    dbytes bigint := 0;
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        dkeys := dkeys + 1;
        dbytes := dbytes + octet_length(NEW.key) + octet_length(NEW.value::text);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        dkeys := dkeys - 1;
        dbytes := dbytes - octet_length(OLD.key) - octet_length(OLD.value::text);
    END IF;
    IF dkeys <> 0 OR dbytes <> 0 THEN
        INSERT INTO kv_usage AS u (tenant_id, keys, bytes) VALUES (tid, dkeys, dbytes)
        ON CONFLICT (tenant_id) DO UPDATE SET keys = u.keys + dkeys, bytes = u.bytes + dbytes;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS kv_entries_usage ON kv_entries;
CREATE TRIGGER kv_entries_usage AFTER INSERT OR UPDATE OR DELETE ON kv_entries
    FOR EACH ROW EXECUTE FUNCTION pnil_kv_usage();
INSERT INTO kv_usage (tenant_id, keys, bytes)
SELECT tenant_id, count(*), sum(octet_length(key) + octet_length(value::text)) FROM kv_entries GROUP BY tenant_id
ON CONFLICT (tenant_id) DO UPDATE SET keys = EXCLUDED.keys, bytes = EXCLUDED.bytes;

CREATE TABLE IF NOT EXISTS prune_runs (
    id          bigserial PRIMARY KEY,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    cpu_ms      double precision,
    removed     jsonb NOT NULL DEFAULT '{}'::jsonb
);
