-- Cron schedules: per-function timezone and misfire grace, the tick cursor the schedulers claim,
-- the last fired tick and the count of ticks skipped as misfired; the live schedulers.
ALTER TABLE functions ADD COLUMN IF NOT EXISTS timezone text NOT NULL DEFAULT 'UTC';
ALTER TABLE functions ADD COLUMN IF NOT EXISTS misfire_grace_s integer NOT NULL DEFAULT 60
    CHECK (misfire_grace_s >= 0);
-- The last tick handled (fired or skipped), or when the schedule last changed: a scheduler
-- claims tick T by moving this from before T to T, so each tick is handled exactly once.
ALTER TABLE functions ADD COLUMN IF NOT EXISTS schedule_cursor timestamptz NOT NULL DEFAULT now();
ALTER TABLE functions ADD COLUMN IF NOT EXISTS last_run_at timestamptz;
ALTER TABLE functions ADD COLUMN IF NOT EXISTS missed_ticks bigint NOT NULL DEFAULT 0;
ALTER TABLE functions ADD COLUMN IF NOT EXISTS skipped_not_ready bigint NOT NULL DEFAULT 0;

-- A new or changed schedule (cron, timezone, type, state) starts from now: ticks before the
-- change are neither fired nor counted as missed (a resumed function fires from its next tick).
CREATE OR REPLACE FUNCTION pnil_schedule_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.cron_expression IS DISTINCT FROM OLD.cron_expression
       OR NEW.timezone IS DISTINCT FROM OLD.timezone OR NEW.trigger_type IS DISTINCT FROM OLD.trigger_type
       OR NEW.state IS DISTINCT FROM OLD.state THEN
        NEW.schedule_cursor := now();
    END IF;
    RETURN NEW;
END $$;
DROP TRIGGER IF EXISTS functions_schedule_changed ON functions;
CREATE TRIGGER functions_schedule_changed BEFORE INSERT OR UPDATE ON functions
    FOR EACH ROW EXECUTE FUNCTION pnil_schedule_changed();

-- Schedulers LISTEN on pnil_schedule: a SCHEDULED function (or one that stopped being one)
-- changed; the payload is its id.
CREATE OR REPLACE FUNCTION pnil_schedule_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    fid uuid := COALESCE(NEW.id, OLD.id);
BEGIN
    IF (TG_OP <> 'INSERT' AND OLD.trigger_type = 'SCHEDULED')
       OR (TG_OP <> 'DELETE' AND NEW.trigger_type = 'SCHEDULED') THEN
        IF TG_OP = 'UPDATE' AND NEW.cron_expression IS NOT DISTINCT FROM OLD.cron_expression
           AND NEW.timezone IS NOT DISTINCT FROM OLD.timezone
           AND NEW.trigger_type IS NOT DISTINCT FROM OLD.trigger_type
           AND NEW.state IS NOT DISTINCT FROM OLD.state
           AND NEW.misfire_grace_s IS NOT DISTINCT FROM OLD.misfire_grace_s THEN
            RETURN NULL;  -- a cursor move or a compile: the schedulers already know
        END IF;
        PERFORM pg_notify('pnil_schedule', fid::text);
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS functions_schedule_notify ON functions;
CREATE TRIGGER functions_schedule_notify AFTER INSERT OR UPDATE OR DELETE ON functions
    FOR EACH ROW EXECUTE FUNCTION pnil_schedule_notify();

CREATE TABLE IF NOT EXISTS schedulers (
    name        text PRIMARY KEY,
    host        text,
    pid         integer,
    functions   integer NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now()
);
