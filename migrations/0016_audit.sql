-- Audit log (issue 31): who (key, tenant) created, changed, deleted or ran what through the API.
CREATE TABLE IF NOT EXISTS audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    tenant_id   uuid NOT NULL,
    key_id      uuid,
    method      text NOT NULL,
    path        text NOT NULL,
    status      integer NOT NULL,
    action      text NOT NULL,
    target      text
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_tenant_at ON audit_log (tenant_id, at);
