-- A function: its current source and artifact, lifecycle, triggers and limits.
CREATE TABLE functions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description     text,
    language        text NOT NULL CHECK (language IN ('assemblyscript', 'javascript', 'wasm')),
    source          text NOT NULL,
    wasm_binary     bytea,
    status          text NOT NULL DEFAULT 'PENDING'
                    CHECK (status IN ('PENDING', 'COMPILING', 'READY', 'FAILED')),
    compile_error   text,
    revision        integer NOT NULL DEFAULT 1 CHECK (revision > 0),
    state           text NOT NULL DEFAULT 'ACTIVE'
                    CHECK (state IN ('DRAFT', 'ACTIVE', 'PAUSED', 'DISABLED', 'ARCHIVED')),
    trigger_type    text NOT NULL DEFAULT 'ONEOFF'
                    CHECK (trigger_type IN ('ONEOFF', 'SCHEDULED', 'HTTP', 'EVENT', 'EMBEDDED')),
    cron_expression text,
    http_path       text,
    http_methods    text[] NOT NULL DEFAULT '{}',
    event_types     text[] NOT NULL DEFAULT '{}',
    resource_limits jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata        jsonb NOT NULL DEFAULT '{}'::jsonb,
    tags            text[] NOT NULL DEFAULT '{}',
    created_by      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ready_has_binary CHECK (status <> 'READY' OR wasm_binary IS NOT NULL),
    CONSTRAINT failed_has_error CHECK (status <> 'FAILED' OR compile_error IS NOT NULL),
    CONSTRAINT scheduled_has_cron CHECK (trigger_type <> 'SCHEDULED' OR cron_expression IS NOT NULL),
    CONSTRAINT http_has_path CHECK (trigger_type <> 'HTTP' OR http_path IS NOT NULL)
);
CREATE INDEX functions_tenant_created ON functions (tenant_id, created_at DESC, id);
CREATE UNIQUE INDEX functions_http_route ON functions (tenant_id, http_path)
    WHERE trigger_type = 'HTTP' AND state <> 'ARCHIVED';
CREATE INDEX functions_scheduled ON functions (trigger_type) WHERE trigger_type = 'SCHEDULED';
CREATE INDEX functions_event_types ON functions USING gin (event_types) WHERE trigger_type = 'EVENT';

-- Every source change is an immutable version.
CREATE TABLE function_versions (
    function_id        uuid NOT NULL REFERENCES functions (id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    number             integer NOT NULL CHECK (number > 0),
    language           text NOT NULL,
    source             text NOT NULL,
    change_description text,
    created_by         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (function_id, number)
);
