-- The host API functions call from the sandbox: a key-value store per tenant, outbound HTTP to
-- the hosts a function allows, and a per-function call budget counted across every process.

-- Keys are at most 255 bytes, values JSON of at most 1 MiB (checked by the host API); an entry
-- past its expires_at is treated as absent and deleted by the executor's sweep.
CREATE TABLE IF NOT EXISTS kv_entries (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key        text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
    value      jsonb NOT NULL,
    expires_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX IF NOT EXISTS kv_entries_expiry ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;

-- maxApiCallsPerMinute: one row per function and minute, incremented atomically by every process.
CREATE TABLE IF NOT EXISTS api_call_windows (
    function_id  uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    calls        integer NOT NULL,
    PRIMARY KEY (function_id, window_start)
);

-- Spin-style patterns of the hosts a function may fetch from ("api.example.com",
-- "*.example.com", "example.com:8443", "http://localhost:8080").
ALTER TABLE functions ADD COLUMN IF NOT EXISTS allowed_hosts text[] NOT NULL DEFAULT '{}';
