-- Security (issue 31): detailed HTTP errors opt-in, secrets, scoped and expiring API keys.

-- A failing HTTP function answers a generic 502 unless its owner opts into the details.
ALTER TABLE functions ADD COLUMN IF NOT EXISTS http_detailed_errors boolean NOT NULL DEFAULT false;

-- The secrets a function may read (names; checked to exist when the function is written).
ALTER TABLE functions ADD COLUMN IF NOT EXISTS secrets text[] NOT NULL DEFAULT '{}';

-- Per-tenant secrets, encrypted at rest (Fernet under PNIL_SECRET_KEY); the value never leaves
-- through the API. `version` counts the writes of a name.
CREATE TABLE IF NOT EXISTS secrets (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    ciphertext bytea NOT NULL,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, name)
);

-- Scoped keys: admin, manage, invoke, read; an invoke key may be limited to some functions;
-- any key may expire. Existing admin keys keep admin, the others get manage (what they could do).
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS scopes text[];
UPDATE api_keys SET scopes = CASE WHEN is_admin THEN ARRAY['admin'] ELSE ARRAY['manage'] END
WHERE scopes IS NULL;
ALTER TABLE api_keys ALTER COLUMN scopes SET DEFAULT ARRAY['manage'];
ALTER TABLE api_keys ALTER COLUMN scopes SET NOT NULL;
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_scopes_known;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scopes_known
    CHECK (scopes <@ ARRAY['admin', 'manage', 'invoke', 'read'] AND cardinality(scopes) > 0);
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS function_ids uuid[];
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS expires_at timestamptz;

-- During a rolling upgrade an older process creates keys without scopes: its admin keys stay admin.
CREATE OR REPLACE FUNCTION pnil_api_keys_admin_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_admin AND NOT ('admin' = ANY (NEW.scopes)) THEN
        NEW.scopes := array_append(NEW.scopes, 'admin');
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS api_keys_admin_scope ON api_keys;
CREATE TRIGGER api_keys_admin_scope BEFORE INSERT ON api_keys
    FOR EACH ROW EXECUTE FUNCTION pnil_api_keys_admin_scope();
