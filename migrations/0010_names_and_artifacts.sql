-- A function's name is unique within its tenant (it addresses the function in URLs and the CLI).
-- Older duplicates keep working under a suffixed name: the newest keeps the plain one.
UPDATE functions f SET name = left(f.name, 190) || '-' || left(f.id::text, 8)
WHERE EXISTS (
    SELECT 1 FROM functions g
    WHERE g.tenant_id = f.tenant_id AND g.name = f.name
      AND (g.created_at, g.id) > (f.created_at, f.id)
);
CREATE UNIQUE INDEX IF NOT EXISTS functions_tenant_name ON functions (tenant_id, name);
CREATE INDEX IF NOT EXISTS functions_tags ON functions USING gin (tags);

-- Compiled artifacts by content: the same source, language and compiler give the same artifact,
-- so a registration or rollback to a source that already compiled is READY without a compile job.
-- Scoped to a tenant: whether another tenant ever compiled a source is not observable.
CREATE TABLE IF NOT EXISTS artifacts (
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    language         text NOT NULL,
    source_sha256    bytea NOT NULL,
    compiler_version text NOT NULL,
    artifact         bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_used_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, language, source_sha256, compiler_version)
);
