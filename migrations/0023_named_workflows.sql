-- Named workflows: a canvas stored under a name, versioned like functions, runnable by name and
-- triggerable on a cron schedule (the scheduler holds them beside SCHEDULED functions) or by
-- events (the event dispatcher starts them beside EVENT functions).
CREATE TABLE IF NOT EXISTS workflows (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description     text,
    version         integer NOT NULL DEFAULT 1,
    steps           jsonb NOT NULL,
    on_failure      jsonb,
    trigger_type    text NOT NULL DEFAULT 'ONEOFF' CHECK (trigger_type IN ('ONEOFF', 'SCHEDULED', 'EVENT')),
    cron_expression text,
    timezone        text NOT NULL DEFAULT 'UTC',
    misfire_grace_s integer NOT NULL DEFAULT 60 CHECK (misfire_grace_s >= 0),
    event_types     text[] NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'PAUSED')),
    -- As for functions: the last cron tick handled; a tick is claimed by moving it (FOR UPDATE).
    schedule_cursor timestamptz NOT NULL DEFAULT now(),
    last_run_at     timestamptz,
    missed_ticks    bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT workflow_scheduled_has_cron CHECK (trigger_type <> 'SCHEDULED' OR cron_expression IS NOT NULL),
    UNIQUE (tenant_id, name)
);
CREATE INDEX IF NOT EXISTS workflows_event ON workflows (tenant_id) WHERE trigger_type = 'EVENT';

CREATE TABLE IF NOT EXISTS workflow_versions (
    workflow_id        uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    number             integer NOT NULL,
    steps              jsonb NOT NULL,
    on_failure         jsonb,
    change_description text,
    created_by         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workflow_id, number)
);

-- A run started by a cron tick or an event is started once per tick or event.
ALTER TABLE workflow_runs ADD COLUMN IF NOT EXISTS dedup_key text;
CREATE UNIQUE INDEX IF NOT EXISTS workflow_runs_dedup ON workflow_runs (tenant_id, dedup_key)
    WHERE dedup_key IS NOT NULL;

-- A new or changed schedule starts from now (as functions' do), and the schedulers hear of it.
CREATE OR REPLACE FUNCTION pnil_workflow_schedule_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.cron_expression IS DISTINCT FROM OLD.cron_expression
       OR NEW.timezone IS DISTINCT FROM OLD.timezone OR NEW.trigger_type IS DISTINCT FROM OLD.trigger_type
       OR NEW.state IS DISTINCT FROM OLD.state THEN
        NEW.schedule_cursor := now();
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS workflows_schedule_changed ON workflows;
CREATE TRIGGER workflows_schedule_changed BEFORE INSERT OR UPDATE ON workflows
    FOR EACH ROW EXECUTE FUNCTION pnil_workflow_schedule_changed();

CREATE OR REPLACE FUNCTION pnil_workflow_schedule_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (TG_OP <> 'INSERT' AND OLD.trigger_type = 'SCHEDULED')
       OR (TG_OP <> 'DELETE' AND NEW.trigger_type = 'SCHEDULED') THEN
        IF TG_OP = 'UPDATE' AND NEW.cron_expression IS NOT DISTINCT FROM OLD.cron_expression
           AND NEW.timezone IS NOT DISTINCT FROM OLD.timezone
           AND NEW.trigger_type IS NOT DISTINCT FROM OLD.trigger_type
           AND NEW.state IS NOT DISTINCT FROM OLD.state
           AND NEW.misfire_grace_s IS NOT DISTINCT FROM OLD.misfire_grace_s THEN
            RETURN NULL;  -- a cursor move or a new canvas: the schedulers already know
        END IF;
        PERFORM pg_notify('pnil_schedule', COALESCE(NEW.id, OLD.id)::text);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS workflows_schedule_notify ON workflows;
CREATE TRIGGER workflows_schedule_notify AFTER INSERT OR UPDATE OR DELETE ON workflows
    FOR EACH ROW EXECUTE FUNCTION pnil_workflow_schedule_notify();
